// A record's page: the process bar across the top, the record's fields in a form below,
// the history as a timeline, and live updates: moves over the processEvents subscription,
// field edits (from other tabs and users) over recordChanged.

import { checkMe, gql, meField, meta, onReachable, ownVersion, RECORD_BRIEF, recordTitle, settled, subscribe } from './api.js';
import { barFields, createBar } from './bar.js';
import { collect, createDrafts, displayValue, fieldControl, isConflict, showErrors } from './forms.js';
import { rememberTitle } from './lookup.js';
import { announce, clock, duration, h, keepFocus, mount, secondsSince, timeEl } from './util.js';

/**
 * Everything the page draws, in one request: the record and its form, the bar, the records its lookups
 * point at (for their titles), and who I am (to notice that the kept metadata's roles are stale).
 */
function pageQuery() {
  const form = meta.has('Record.form')
    ? 'form { name label type value required hidden locked recommendation lookupEntity options { name label } }'
    : '';
  const lookups = meta.has('recordLookups') ? `recordLookups(id: $id) { ${RECORD_BRIEF} }` : '';
  // Who owns it, and what I may do with it (round two's access control): the form offers only that.
  const access = meta.has('Record.permissions') ? 'owner permissions' : '';
  return `query RecordPage($id: ID!) {
    record(id: $id) { id entity version values createdAt updatedAt ${access} ${form}
      instances { id status process { name label } activeStage { name label } createdAt activeStageStartedOn
        history { stage { name label category entity } enteredAt exitedAt seconds by } } }
    processBar(recordId: $id) { ${barFields()} }
    ${lookups} ${meField()}
  }`;
}

const EVENTS = `subscription Events($recordId: ID) {
  processEvents(recordId: $recordId) { kind at by stage { name label } instance { id version status activeStage { label } } } }`;

/** A record's committed edits, made anywhere (another tab, another user): what the page reads again. */
const CHANGES = `subscription Changes($id: ID!) { recordChanged(id: $id) { version deleted by } }`;

// Edits not saved yet, kept across the page's views (module-wide, keyed by record and field): going to the
// records and back, or to the record a move opened and back, finds them where they were (unsaved, said so).
const formDrafts = createDrafts();
const barDrafts = createDrafts();

/** The id of the element that had the focus when a move opened another record's page: it gets it there. */
let carriedFocus = null;

const VERBS = {
  started: (e) => `started the process on ${e.stage?.label || e.instance.activeStage.label}`,
  stage_changed: (e) => `moved it to ${e.stage?.label || e.instance.activeStage.label}`,
  finished: () => 'finished the process',
  abandoned: () => 'abandoned the process',
  reactivated: () => 'reactivated the process',
  switched: () => 'switched its process',
};

export function renderRecord(main, id, { settle, navigate, onReconnect }) {
  let alive = true;
  let record = null;
  let stopEvents = null;
  let subscribedTo = null;
  const knownVersions = new Map(); // instance id -> the version this page last showed
  const live = h('span', { class: 'live', 'data-state': 'off' }, 'Connecting…');
  const bar = createBar({ onChanged: (opts) => refresh(opts), drafts: barDrafts });
  const details = createDetails(() => refresh({ own: true }));
  const historyBox = h('section', { class: 'card history', 'aria-labelledby': 'history-title' });
  const head = h('div', { class: 'page-head record-head' });
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' });

  mount(main, crumbs, head, bar.el, h('div', { class: 'columns' }, details.el, historyBox));

  async function refresh({ own = false, instance = null } = {}) {
    if (instance) knownVersions.set(instance.id, Math.max(instance.version, knownVersions.get(instance.id) ?? 0));
    const before = bar.instance;
    let data;
    try {
      data = await gql(pageQuery(), { id });
    } catch (error) {
      if (alive) bar.showError(error.message);
      return;
    }
    if (!alive) return;
    if (instance && opensAnother(before, data.processBar)) return;
    if (!data.record) {
      mount(main, h('h1', {}, 'Record not found'), h('p', {}, `There is no record ${id}, or it was deleted. `, h('a', { href: '/' }, 'Back to the records')));
      settle('Not found');
      return;
    }
    const first = record === null;
    record = data.record;
    checkMe(data.me);
    // Titles of the records the page links to, known without asking for each.
    rememberTitle(record);
    (data.recordLookups || []).forEach(rememberTitle);
    const bound = data.processBar ? [data.processBar.instance.record, data.processBar.instance.activeRecord] : [];
    bound.forEach((r) => r && rememberTitle(r));
    const entity = meta.entity(record.entity);
    const title = recordTitle(record);
    mount(crumbs, h('ol', {}, h('li', {}, h('a', { href: '/' }, 'Records')),
      h('li', {}, h('a', { href: `/?entity=${encodeURIComponent(record.entity)}` }, entity?.label || record.entity)),
      h('li', {}, h('span', { 'aria-current': 'page' }, title))));
    keepFocus(head, () => mount(head,
      h('div', {}, h('p', { class: 'eyebrow' }, entity?.label || record.entity), h('h1', { id: 'page-title', tabindex: '-1' }, title),
        h('p', { class: 'muted small' }, 'Created ', timeEl(record.createdAt), ' · updated ', timeEl(record.updatedAt))),
      live));
    const processBar = data.processBar;
    if (processBar) knownVersions.set(processBar.instance.id, processBar.instance.version);
    bar.render(processBar, record, { own });
    details.render(record);
    drawHistory(processBar);
    watch(processBar ? processBar.instance.record.id : record.id);
    if (first) {
      settle(title);
      arrive();
    }
  }

  /**
   * The user's own move took the process to a stage on another record (Next Stage into the opportunity,
   * Previous back into the lead): as D365 does, that record's page opens, with the bar carried on and the
   * focus where it was (Next Stage stays under the keyboard). True when it navigated.
   */
  function opensAnother(before, processBar) {
    if (!before || !processBar || !navigate) return false;
    const inst = processBar.instance;
    if (inst.id !== before.id || inst.status !== 'ACTIVE') return false; // a switch, a finish: stay
    const there = inst.activeRecord;
    if (!there || there.id === id || there.id === before.activeRecord.id) return false;
    bar.keep();
    details.keep();
    // The control that had the focus, found again by id there; else Next Stage (a picker's button is gone, and
    // a redraw under the move may have put the focus on the flyout's heading meanwhile).
    const active = document.activeElement;
    const kept = active && main.contains(active) && active.id !== 'flyout-title' ? active.id : '';
    carriedFocus = kept || 'bar-next';
    navigate(`/records/${encodeURIComponent(there.id)}`, { focus: false });
    return true;
  }

  /** After a move opened this page: the focus goes to the control that had it (found by id), else the flyout. */
  function arrive() {
    if (carriedFocus === null) return;
    const target = main.querySelector(`#${CSS.escape(carriedFocus)}`) || main.querySelector('#bar-next')
      || main.querySelector('#flyout-title');
    carriedFocus = null;
    target?.focus();
    announce(`${meta.entity(record.entity)?.label || 'Record'} “${recordTitle(record)}” opened.`);
  }

  /**
   * The history of every process that ran on the record: the bar's first, then the others (a record can
   * have several: its own and another record's that reached it, such as the lead's on its opportunity).
   */
  function drawHistory(processBar) {
    const shown = processBar ? [processBar.instance] : [];
    const others = (record.instances || []).filter((i) => !shown.some((s) => s.id === i.id) && i.history);
    const all = [...shown, ...others];
    if (!all.length) {
      // A role with no process on this entity can't tell whether one ran: say that, not "none yet".
      const none = meta.processesOf(record.entity).length
        ? 'No process history yet.'
        : `Process history isn't shown to your roles on ${meta.entity(record.entity)?.label || 'these'} records.`;
      mount(historyBox, h('h2', { id: 'history-title' }, 'History'), h('p', { class: 'muted' }, none));
      return;
    }
    mount(historyBox, h('h2', { id: 'history-title' }, 'History'),
      ...all.map((inst) => (all.length > 1
        ? h('section', { class: 'history-process', 'aria-label': `History of ${inst.process.label}` },
          h('h3', {}, inst.process.label), ...historyOf(inst)) : historyOf(inst))));
  }

  /** One instance's stage visits, newest first, with its total time. */
  function historyOf(inst) {
    const visits = [...inst.history].reverse();
    // The open visit of an active instance counts on from the same start, with the same timer, as
    // the bar's "for N min".
    const counting = (v) => !v.exitedAt && inst.status === 'ACTIVE';
    const spent = (v) => v.seconds ?? secondsSince(v.enteredAt, v.exitedAt) ?? 0;
    const closed = inst.history.filter((v) => !counting(v)).reduce((sum, v) => sum + spent(v), 0);
    const open = inst.history.some(counting);
    return [
      h('p', { class: 'muted small' }, `${inst.process.label} · started `, timeEl(inst.createdAt), ' · ',
        open ? clock(inst.activeStageStartedOn, closed) : duration(closed), ' in all'),
      h('ol', { class: 'timeline', 'aria-label': 'Stage visits, newest first' }, ...visits.map((v) => {
        const isOpen = !v.exitedAt;
        return h('li', { class: `visit${isOpen ? ' is-open' : ''}` },
          h('div', { class: 'visit-head' },
            h('strong', {}, v.stage ? v.stage.label : 'A removed stage'),
            h('span', { class: 'visit-time' }, counting(v) ? clock(inst.activeStageStartedOn) : duration(spent(v)), isOpen ? ' so far' : '')),
          h('p', { class: 'muted small' },
            v.stage ? `${meta.entity(v.stage.entity)?.label || v.stage.entity} · ` : '',
            'entered ', timeEl(v.enteredAt), isOpen ? '' : [' · left ', timeEl(v.exitedAt)], ` · by ${v.by}`));
      }))];
  }

  /** (Re)subscribe to the events of the instance's primary record. */
  function watch(recordId) {
    if (subscribedTo === recordId) return;
    if (stopEvents) stopEvents();
    subscribedTo = recordId;
    stopEvents = subscribe(EVENTS, { recordId }, (data) => {
      const event = data.processEvents;
      if (!event || !alive) return;
      const known = knownVersions.get(event.instance.id);
      if (known !== undefined && event.instance.version <= known) return; // our own change, already shown
      knownVersions.set(event.instance.id, event.instance.version);
      const verb = VERBS[event.kind];
      if (verb) announce(`${event.by} ${verb(event)}.`);
      live.dataset.flash = String(Date.now());
      refresh({ own: false });
    }, async (status) => {
      if (!alive) return;
      // Once subscribed (again), catch up on what happened before: then the page is live.
      if (status === 'live') await refresh({ own: false });
      if (!alive) return;
      live.dataset.state = status;
      live.textContent = { live: 'Live', offline: 'Reconnecting…', refused: 'Live updates off' }[status] || status;
      live.title = status === 'live' ? 'Changes by others show here as they happen' : '';
    });
  }

  /**
   * Field edits of this record made elsewhere (another tab, another user) arrive over recordChanged: the
   * page reads it again as someone else's change, so edits not yet saved here stay, laid over the fresh
   * values (and said when they clash), and a step field in use is not redrawn under the user.
   */
  const stopChanges = subscribe(CHANGES, { id }, async (data) => {
    const change = data.recordChanged;
    if (!change || !alive) return;
    await settled(); // a save of this page's on its way: its answer says whether this change is ours
    if (!alive) return;
    if (!change.deleted && change.version <= Math.max(record ? record.version : 0, ownVersion(id))) return;
    const noun = meta.entity(record?.entity)?.label?.toLowerCase() || 'record';
    announce(change.deleted ? `${change.by} deleted this ${noun}.` : `${change.by} changed this ${noun}.`);
    live.dataset.flash = String(Date.now());
    refresh({ own: false });
  });

  // The server answers again after a request found it unreachable: read the page again by itself.
  if (onReconnect) onReconnect(() => { if (alive) { bar.reachable(); refresh({ own: false }); } });

  /** Leaving the page (reload, close) with edits not saved yet asks first; moving inside the page keeps them. */
  const guard = (event) => {
    bar.keep();
    details.keep();
    if (formDrafts.all().length || barDrafts.all().length) {
      event.preventDefault();
      event.returnValue = '';
    }
  };
  window.addEventListener('beforeunload', guard);

  refresh();
  return () => {
    alive = false;
    window.removeEventListener('beforeunload', guard);
    bar.keep();
    details.keep();
    bar.destroy();
    if (stopEvents) stopEvents();
    stopChanges();
  };
}

/** The record's own fields (Record.form: rules' required/hidden/locked/recommendation applied). */
function createDetails(onSaved) {
  const el = h('section', { class: 'card details', 'aria-labelledby': 'details-title' });
  let record = null;
  let controls = [];
  let baseVersion = null;
  const drafts = formDrafts; // edits not saved yet: they survive a refresh, a version conflict and leaving the page
  // Focus goes to the summary when a save is refused for a reason no one field carries (a clash).
  const summary = h('div', { id: 'details-alert', class: 'error-box', role: 'alert', tabindex: '-1', hidden: true });
  const saved = h('p', { class: 'saved', role: 'status' });

  const states = (rec) => {
    if (rec.form) return rec.form;
    const entity = meta.entity(rec.entity);
    return (entity ? entity.fields : []).map((f) => ({ ...f, value: rec.values[f.name] ?? null, hidden: false, locked: false, recommendation: null }));
  };
  /** After a save: focus stays on Save (found again after the redraw), also when "Save mine" was pressed. */
  const focusSave = () => {
    const active = document.activeElement;
    if (!active || active === document.body || summary.contains(active) || active.id === 'details-save') {
      el.querySelector('#details-save')?.focus();
    }
  };
  const noun = () => meta.entity(record.entity)?.label || 'record';

  /** Fields someone else changed while they were being edited here: say so, with the two ways out. */
  const sayClashes = () => {
    const clashes = drafts.clashes(record.id).filter((d) => controls.some((c) => c.name === d.field));
    if (!clashes.length) return;
    const names = clashes.map((d) => `${d.fieldDef.label} (now “${displayValue(d.fieldDef, d.theirs)}”)`);
    summary.replaceChildren(
      h('p', {}, `Someone else changed ${names.join(', ')} on this ${noun()} while you were editing. `
        + 'Your edits are still in the form, not saved yet.'),
      h('div', { class: 'alert-actions' },
        h('button', { type: 'submit', class: 'btn btn-small btn-primary', form: 'details-form' }, 'Save mine'),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => {
          drafts.drop(record.id);
          showErrors(controls, [], summary);
          keepFocus(el, draw);
          el.querySelector('#details-title')?.focus();
        } }, 'Use theirs')));
    summary.hidden = false;
  };

  const draw = () => {
    const entity = meta.entity(record.entity);
    // A server without access control sends no permissions: everything is offered, as before. Fields
    // restricted to other roles never arrive (absent from the form), so there is nothing of theirs to hide.
    const mayUpdate = !record.permissions || record.permissions.includes('update');
    controls = states(record).filter((f) => !f.hidden).map((f) => fieldControl(f, {
      value: f.value, idPrefix: 'rec', required: f.required, locked: f.locked || !mayUpdate,
      recommendation: f.recommendation,
    }));
    drafts.overlay(record.id, controls);
    controls.forEach((c) => c.el.addEventListener('input', () => { saved.textContent = ''; }));
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'details-save' }, 'Save');
    const owner = record.owner ? h('p', { class: 'owner' }, `Owner: ${record.owner}`) : null;
    const form = h('form', { id: 'details-form', novalidate: true, class: 'form-grid', 'aria-labelledby': 'details-title' },
      summary, owner, h('div', { class: 'fields' }, ...controls.map((c) => c.el)),
      mayUpdate ? h('div', { class: 'actions' }, submit, saved)
        : h('p', { class: 'saved' }, `Your roles may read this ${noun()}, not change it.`));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const { values, problems } = collect(controls, { changedOnly: true });
      if (problems.length) { showErrors(controls, problems, summary, 'Check the fields marked below.'); return; }
      if (!Object.keys(values).length) { showErrors(controls, [], summary); saved.textContent = 'Nothing to save.'; return; }
      // Not `disabled`: a disabled button drops the focus (to the body); Save keeps it.
      if (submit.getAttribute('aria-disabled') === 'true') return;
      submit.setAttribute('aria-disabled', 'true');
      saved.textContent = '';
      // What is in the form now is what the user wants, clashes they were told of included.
      drafts.keepMine(record.id);
      const current = record;
      try {
        const result = (await gql(`mutation Save($id: ID!, $values: JSON!, $expectedVersion: Int) {
          updateRecord(id: $id, values: $values, expectedVersion: $expectedVersion) {
            __typename ... on Record { id version }
            ... on ValidationError { message currentVersion fieldErrors { field message } } } }`,
        { id: current.id, values, expectedVersion: baseVersion })).updateRecord;
        if (isConflict(result)) {
          // Someone else saved first. Keep the edits, read the record again, and send them on its
          // new version unless they changed the same fields (then say which, and let the user pick).
          drafts.capture(current.id, controls);
          const outcome = await drafts.resend(current.id);
          let focusSummary = false;
          if (outcome.clashes.length) {
            showErrors(controls, [], summary);
            focusSummary = true;
          } else if (outcome.message) {
            focusSummary = !showErrors(controls, outcome.fieldErrors, summary, outcome.message);
          } else {
            showErrors(controls, [], summary);
            saved.textContent = 'Saved.';
            announce(`Saved. Someone else had changed this ${noun()} meanwhile; your changes were saved on top of theirs.`);
          }
          await onSaved();
          // A clash: focus on what says it (and offers Save mine / Use theirs).
          if (focusSummary && !summary.hidden) summary.focus();
          else if (outcome.message) el.querySelector('.field.has-error input, .field.has-error select')?.focus();
          else focusSave();
          return;
        }
        if (result.__typename === 'ValidationError') {
          showErrors(controls, result.fieldErrors, summary, result.message);
          return;
        }
        showErrors(controls, [], summary);
        baseVersion = result.version;
        controls.forEach((c) => c.accept());
        drafts.drop(current.id);
        saved.textContent = 'Saved.';
        announce('Saved.');
        await onSaved();
        focusSave();
      } catch (error) {
        showErrors(controls, [], summary, error.message);
      } finally {
        submit.removeAttribute('aria-disabled');
      }
    });
    mount(el, h('h2', { id: 'details-title', tabindex: '-1' }, `${entity?.label || 'Record'} details`), form);
    sayClashes();
  };

  return {
    el,
    /** Remember the edits not saved yet (before the page goes away). */
    keep() { if (record) drafts.capture(record.id, controls); },
    /** Show fresh data; edits not yet saved are laid over it (and said when they clash). */
    render(next) {
      if (record && record.id === next.id) drafts.capture(record.id, controls);
      record = next;
      baseVersion = next.version;
      keepFocus(el, draw);
    },
  };
}
