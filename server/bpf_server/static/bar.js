// The process bar: one chevron per stage of the active path, the selected stage's flyout
// (its steps as inputs, or read-only for other stages), and the navigation buttons.
// Every move sends the instance's version as expectedVersion, so a concurrent change is
// refused (VERSION_CONFLICT) instead of overwritten.

import { gql, meta, reach, recordTitle, UNREACHABLE } from './api.js';
import { createDrafts, displayValue, fieldControl, fieldDisplay, isConflict, same } from './forms.js';
import { lookupPicker } from './lookup.js';
import { STATUS_WORDS } from './records.js';
import { announce, clock, duration, formatDateTime, h, keepFocus, mount, secondsSince, slug, srOnly, timeEl } from './util.js';

/** What the bar reads; the active record's permissions too where the server has access control (round two). */
export const barFields = () => `
  instance { id name status outcome version activeStageStartedOn createdAt completedOn canMoveNext dueAt overdue
    process { name label entity version stages { name entity via creates } outcomes { name label } }
    record { id entity version values }
    activeRecord { id entity version values ${meta.has('Record.permissions') ? 'permissions' : ''} }
    activeStage { name label entity }
    missingSteps { name label }
    history { stage { name label category entity } enteredAt exitedAt seconds by } }
  stages { state unmetGates dueAt stage { name label category entity }
    steps { step { name label field kind required } value done required hidden locked recommendation } }`;

const RESULT = `__typename
  ... on ProcessInstance { id version status activeStage { name label } }
  ... on TransitionError { code message missingSteps { name } unmetGates currentVersion }`;

/** Where Next Stage leads, read fresh (after the edits are saved): the path ahead and what the instance has bound. */
const AHEAD = `query Ahead($id: ID!) { processInstance(id: $id) { id version canMoveNext
  record { id entity values } activeRecord { id entity values } activeStage { name entity }
  traversedPath { name } activePath { name label entity via viaEntity creates }
  history { stage { name entity } } } }`;

/** The records a `via` stage could continue with: those whose lookup points at the instance's record. */
const RELATED_MAX = 50;
const RELATED = `query Related($e: String!, $w: JSON) { records(entity: $e, where: $w, first: ${RELATED_MAX}) {
  total items { id entity version values createdAt } } }`;

/** The "create a new record" choice of the next stage's picker. */
const CREATE_NEW = '';

const MOVES = {
  next: ['moveNext', '$instanceId: ID!, $expectedVersion: Int, $targetRecordId: ID',
    'instanceId: $instanceId, expectedVersion: $expectedVersion, targetRecordId: $targetRecordId'],
  previous: ['movePrevious', '$instanceId: ID!, $expectedVersion: Int', 'instanceId: $instanceId, expectedVersion: $expectedVersion'],
  setActive: ['setActiveStage', '$instanceId: ID!, $stage: String!, $expectedVersion: Int',
    'instanceId: $instanceId, stage: $stage, expectedVersion: $expectedVersion'],
  finish: ['finishProcess', '$instanceId: ID!, $expectedVersion: Int', 'instanceId: $instanceId, expectedVersion: $expectedVersion'],
  abandon: ['abandonProcess', '$instanceId: ID!, $expectedVersion: Int', 'instanceId: $instanceId, expectedVersion: $expectedVersion'],
  reactivate: ['reactivateProcess', '$instanceId: ID!', 'instanceId: $instanceId'],
  action: ['runActionStep', '$instanceId: ID!, $step: String!', 'instanceId: $instanceId, step: $step'],
  switch: ['switchProcess', '$recordId: ID!, $process: String!', 'recordId: $recordId, process: $process'],
};

const UPDATE = `mutation Save($id: ID!, $values: JSON!, $expectedVersion: Int) {
  updateRecord(id: $id, values: $values, expectedVersion: $expectedVersion) {
    __typename
    ... on Record { id version values }
    ... on ValidationError { message currentVersion fieldErrors { field message } } } }`;

/** A plugin's refusal says "ns.name: what to do"; the page shows what to do, and who said it apart. */
export function vetoParts(message) {
  const match = /^([A-Za-z_]\w*\.[A-Za-z_]\w*): (.+)$/s.exec(String(message));
  if (!match) return { source: null, text: String(message) };
  let text = match[2].trim();
  text = text.charAt(0).toUpperCase() + text.slice(1);
  if (!/[.!?]$/.test(text)) text += '.';
  return { source: match[1], text };
}

/** A gate's message as a sentence: capitalised, with its full stop. */
const sentence = (text) => {
  const t = String(text).trim();
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? '' : '.'}`;
};

/** "A", "A and B", "A, B and C". */
const words = (list) => (list.length < 2 ? list.join('') : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`);

const STATE_WORDS = { COMPLETED: 'completed', ACTIVE: 'active stage', UPCOMING: 'upcoming' };

const entityLabel = (name) => meta.entity(name)?.label || name;

/** Where the "keep the flyout open" choice is remembered, per browser (as D365 remembers a docked flyout). */
const PIN_KEY = 'bpf.flyout.pinned';

/** Whether the flyout is pinned: docked, open on load and across moves. Pinned unless the user unpinned it. */
const readPinned = () => {
  try { return window.localStorage.getItem(PIN_KEY) !== 'false'; } catch { return true; }
};

const writePinned = (on) => {
  try { window.localStorage.setItem(PIN_KEY, String(on)); } catch { /* storage refused: the choice lasts the page */ }
};

/** The words a pending command puts on its button, and whose button it is. */
const PENDING = {
  next: ['#bar-next', 'Moving…'], previous: ['#bar-previous', 'Moving…'], setActive: ['#bar-set-active', 'Moving…'],
  finish: ['#bar-finish', 'Finishing…'], abandon: ['#bar-abandon-yes', 'Abandoning…'],
  reactivate: ['#bar-reactivate', 'Reactivating…'], switch: ['#switch-go', 'Switching…'],
};

/** "Lead to Opportunity Sales Process" for the server's "your roles don't allow the process lead_to_opportunity". */
const ROLES_REFUSAL = /^your roles don't allow the process (\S+)$/;
/** A category name as words: "needs_review" → "Needs review". */
const categoryWords = (name) => {
  const text = String(name).replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
};

/**
 * The bar for one record page. `onChanged({own})` refetches the page's data, which comes back
 * through render(). Returns {el, render(bar, record), destroy()}.
 */
export function createBar({ onChanged, drafts: kept = null }) {
  const el = h('section', { class: 'bpf', 'aria-labelledby': 'bar-title' });
  let bar = null;          // the ProcessBar being shown
  let record = null;       // the page's record (for Switch Process, and to tell it from the instance's)
  let selected = null;     // the stage name whose flyout shows; null: the active one
  let pinned = readPinned(); // the flyout stays open across moves and page loads
  let open = pinned;       // the flyout shows (a click on its stage, or Escape, closes it)
  let railTarget = null;   // where a scroll button is taking the chevrons (kept across a redraw meanwhile)
  let pending = null;      // the command on its way: {kind, step} (its button says "Moving…", the bar is aria-busy)
  let controls = [];       // the active stage's step controls
  let controlsRecord = null; // the id of the record those controls edit
  let flyoutError = null;  // {text, extra, tone} shown beside the flyout's buttons
  let toolError = null;    // shown beside Switch Process / Abandon / Reactivate
  let switchOpen = false;
  let confirmingAbandon = false; // Abandon asks first: "Abandon <process>?" Yes, abandon / No
  let choosing = null;     // the Next Stage picker: {stage, anchor, items, total, pick, error} (see offerNext)
  let busy = false;
  let saving = Promise.resolve(true);
  let pendingSaves = 0;
  let failedSaves = 0;
  let saveNote = '';       // "Saving…" / "Saved" / "Not saved" beside the flyout's buttons
  let waiting = null;      // a newer bar held back: someone else's while the user is in a step field, any while a pointer is down
  let pointerHeld = false;
  // Step edits not yet saved, kept across redraws and conflicts (and, given by the page, across its views).
  const drafts = kept || createDrafts();

  const mutate = async (kind, variables) => {
    const [field, params, args] = MOVES[kind];
    const data = await gql(`mutation M(${params}) { ${field}(${args}) { ${RESULT} } }`, variables);
    return data[field];
  };

  // ----------------------------------------------------------------- saving steps

  /**
   * Save one step's field on the record the active stage works on. Returns {ok, refresh}: refresh
   * 'own' after a save (rules may change the bar), 'other' when fresh data should be read to show
   * what someone else changed (the unsaved edits are laid over it). Either is the user's doing, so
   * the page's data is read again as their own change (drawn even while they are in a field).
   */
  const saveStep = async (control) => {
    const { value, problem } = control.read();
    if (problem) { control.setError(problem); return { ok: false }; }
    if (!control.dirty()) return { ok: true };
    const target = bar.instance.activeRecord;
    let result;
    try {
      result = (await gql(UPDATE, { id: target.id, values: { [control.name]: value }, expectedVersion: target.version })).updateRecord;
    } catch (error) {
      control.setError(error.message);
      return { ok: false };
    }
    if (isConflict(result)) {
      // Someone else changed the record: keep the edit, read it again, send the edit again when
      // the fields they changed are not this one; otherwise ask.
      drafts.capture(target.id, [control]);
      return resolveConflict(target, [control.name]);
    }
    if (result.__typename === 'ValidationError') {
      const own = result.fieldErrors.filter((fe) => !fe.field || fe.field === control.name);
      control.setError((own.length ? own : result.fieldErrors).map((fe) => fe.message).join(' ') || result.message);
      return { ok: false };
    }
    control.setError(null);
    control.accept();
    drafts.drop(target.id, control.name);
    if (flyoutError && flyoutError.missing) {
      const left = flyoutError.missing.filter((name) => name !== control.name);
      // The gates are said beside Next Stage, from the fresh bar; the error keeps only the steps still empty.
      flyoutError = left.length ? describe({ code: 'STAGE_GATE', missingSteps: left.map((name) => ({ name })), unmetGates: [] }, activeBarStage()) : null;
    }
    target.version = result.version;
    target.values = result.values;
    return { ok: true, refresh: 'own' };
  };

  /** After a version conflict on `target`: resend the drafts of `only` on the fresh version, or report a clash. */
  const resolveConflict = async (target, only = null) => {
    let outcome;
    try {
      outcome = await drafts.resend(target.id, { only });
    } catch (error) {
      flyoutError = { text: error.message };
      return { ok: false, refresh: 'other' };
    }
    if (outcome.record) {
      target.version = outcome.record.version;
      target.values = outcome.record.values;
    }
    if (outcome.clashes.length) return { ok: false, refresh: 'other' }; // the flyout shows the clash
    if (outcome.message) {
      const text = outcome.fieldErrors.map((fe) => fe.message).join(' ') || outcome.message;
      flyoutError = { text: text.charAt(0).toUpperCase() + text.slice(1) };
      return { ok: false, refresh: 'other' };
    }
    if (outcome.saved.length) {
      announce(`Someone else changed this ${entityLabel(target.entity) || 'record'} meanwhile; your change was saved on top of theirs.`);
    }
    return { ok: true, refresh: 'own' };
  };

  const setSaveNote = (text) => {
    saveNote = text;
    const note = el.querySelector('#bar-saving');
    if (note) note.textContent = text;
  };

  /** Run a save `task` (→ {ok, refresh}) after the ones before it; "Saved" only when none failed. */
  const queue = (task) => {
    pendingSaves += 1;
    setSaveNote('Saving…');
    saving = saving.then(task)
      .catch((error) => { flyoutError = { text: error.message }; return { ok: false, refresh: null }; })
      .then(async ({ ok, refresh }) => {
        if (!ok) failedSaves += 1;
        if (refresh) await onChanged({ own: true }); // the user's doing: redraw even under their focus
        else if (!ok && flyoutError) draw();
        return ok;
      })
      .finally(() => {
        pendingSaves -= 1;
        if (!pendingSaves) {
          setSaveNote(failedSaves ? 'Not saved' : 'Saved');
          failedSaves = 0;
        }
      });
    return saving;
  };

  const queueSave = (control) => queue(() => saveStep(control));

  /** Save every step edited but not yet saved (before a move), in order; false if one failed. */
  const flush = async () => {
    await saving;
    let ok = true;
    let reread = false;
    for (const control of [...controls]) {
      const { problem } = control.read();
      if (problem) { control.setError(problem); ok = false; continue; }
      if (!control.dirty()) continue;
      const outcome = await saveStep(control);
      ok = outcome.ok && ok;
      reread = reread || outcome.refresh === 'other';
    }
    if (!ok && reread) await onChanged({ own: true });
    // A step that could not be saved because the server is gone: say that nothing moved (not only on the field).
    if (!ok && reach.lost) { flyoutError = { text: UNREACHABLE }; draw(); }
    return ok;
  };

  /** "Save mine" after a clash: the user has seen their value; send ours on the fresh version. */
  const keepMine = (target) => queue(async () => {
    drafts.keepMine(target.id);
    flyoutError = null;
    return resolveConflict(target);
  });

  /** "Use theirs" after a clash: forget the unsaved edits of the record and show what is there. */
  const takeTheirs = (target) => {
    if (controlsRecord === target.id) controls.forEach((c) => { c.set(c.base()); c.setError(null); });
    drafts.drop(target.id);
    flyoutError = null;
    setSaveNote('');
    onChanged({ own: true }).then(() => el.querySelector('#flyout-title')?.focus());
  };

  // ----------------------------------------------------------------- moving

  const conflictError = (text) => ({
    text: `${text} Reload to see the latest before you try again.`,
    extra: h('button', { type: 'button', class: 'btn btn-small', onclick: () => { flyoutError = null; toolError = null; onChanged({ own: true }); } }, 'Reload'),
  });

  const describe = (error, stage) => {
    switch (error.code) {
      case 'STAGE_GATE': {
        const steps = stage ? stage.steps : [];
        const missing = error.missingSteps.map((m) => m.name);
        const names = missing.map((n) => steps.find((s) => s.step.name === n)?.step.label || n);
        const gates = error.unmetGates || [];
        const said = [names.length ? `Fill in the required ${names.length === 1 ? 'step' : 'steps'} first: ${names.join(', ')}.` : null,
          ...gates.map(sentence)].filter(Boolean);
        return { text: said.join(' ') || error.message, missing, gates };
      }
      case 'VERSION_CONFLICT':
        return conflictError('Someone else changed this process since you loaded it; review their change.');
      case 'FORBIDDEN': {
        // The process's roles, or the active stage's (`roles`): the server's reason says which. The
        // process's is said once, by its label ("Not allowed: your roles don't allow …" said it twice).
        const roles = ROLES_REFUSAL.exec(String(error.message).trim());
        if (roles) {
          const name = roles[1];
          const label = bar && bar.instance.process.name === name ? bar.instance.process.label : meta.process(name)?.label || name;
          return { text: `Your roles don't allow ${label}.` };
        }
        return { text: `Not allowed: ${error.message}.` };
      }
      case 'NOT_ACTIVE':
        return { text: `This process is ${STATUS_WORDS[bar.instance.status]?.toLowerCase() || 'not active'}: reactivate it first.` };
      case 'CANCELLED': {
        // A plugin said no: its words for the user, and which hook it was as a quiet detail.
        const { source, text } = vetoParts(error.message);
        return { text, extra: source ? h('p', { class: 'error-source', title: error.message }, 'Refused by ', h('code', {}, source)) : null };
      }
      default:
        return { text: error.message };
    }
  };

  const act = async (kind, variables = {}, { where = 'flyout', after = null } = {}) => {
    if (busy) return false;
    const stage = activeBarStage();
    if (where === 'flyout' && !(await flush())) return false;
    busy = true;
    pending = { kind, step: variables.step || null };
    showPending();
    flyoutError = null;
    toolError = null;
    let result;
    try {
      const base = kind === 'switch' ? {} : { instanceId: bar.instance.id };
      if (['next', 'previous', 'setActive', 'finish', 'abandon'].includes(kind)) base.expectedVersion = bar.instance.version;
      result = await mutate(kind, { ...base, ...variables });
    } catch (error) {
      result = { __typename: 'TransitionError', code: 'ERROR', message: error.message, missingSteps: [], unmetGates: [] };
    } finally {
      // The words stay on the button, and the bar busy, until the next drawing shows where it went.
      busy = false;
      pending = null;
    }
    if (result.__typename === 'TransitionError') {
      if (result.code === 'CROSS_ENTITY_TARGET_REQUIRED' && kind === 'next') {
        flyoutError = pickTarget();
      } else if (where === 'flyout') {
        flyoutError = describe(result, stage);
      } else {
        toolError = describe(result, stage);
      }
      draw();
      return false;
    }
    selected = null;
    switchOpen = false;
    choosing = null;
    saveNote = '';
    // An unpinned flyout closes after a move (it floats over the work, as D365's does); a pinned one stays.
    if (!pinned && kind !== 'action') open = false;
    if (after) announce(after(result));
    await onChanged({ own: true, instance: result });
    return true;
  };

  /**
   * CROSS_ENTITY_TARGET_REQUIRED: pick the record the next stage works on, then move again. The
   * stage binds a record whose lookup points at one already bound in the instance; when exactly one
   * lookup of the target entity points at a bound record's entity, only records linked so are offered.
   */
  const pickTarget = () => {
    const path = bar.stages;
    const index = path.findIndex((s) => s.state === 'ACTIVE');
    const next = path[index + 1];
    const entity = next ? next.stage.entity : null;
    if (!entity) return { text: 'The next stage needs a record of another entity.' };
    const bound = [bar.instance.activeRecord, bar.instance.record];
    const links = (meta.entity(entity)?.fields || []).filter((f) => f.type === 'lookup' && bound.some((r) => r.entity === f.lookupEntity));
    const link = links.length === 1 ? links[0] : null;
    const to = link ? bound.find((r) => r.entity === link.lookupEntity) : null;
    let chosen = null;
    const picker = lookupPicker({ id: 'bar-target', entity, where: link ? { [link.name]: to.id } : null, onPick: (id) => { chosen = id; } });
    // Nothing picked yet: said next to the picker (in words, as every refusal), and the picker gets the focus.
    const unpicked = h('p', { id: 'bar-target-error', class: 'field-error', role: 'alert' });
    const go = h('button', { type: 'button', class: 'btn btn-primary btn-small', onclick: () => {
      if (!chosen) {
        unpicked.textContent = `Pick a ${entityLabel(entity)} first.`;
        picker.input.focus();
        return;
      }
      act('next', { targetRecordId: chosen }, { after: (r) => `Moved to ${r.activeStage.label}.` });
    } }, `Move to ${next.stage.label}`);
    return {
      tone: 'info',
      text: `${next.stage.label} works on a ${entityLabel(entity)} record. Pick the one to continue with`
        + `${link ? ` (${entityLabel(entity)} records whose ${link.label} is “${recordTitle(to)}”)` : ''}.`,
      extra: h('div', { class: 'target-pick' }, h('label', { for: 'bar-target' }, entityLabel(entity)), picker.el, go, unpicked),
    };
  };

  const movedTo = (r) => `Moved to ${r.activeStage.label}.`;

  /**
   * Next Stage. When the next stage is on another entity reached `via` a lookup, with `create`, and
   * the instance has no record of that entity bound yet, records may already point at the instance's
   * record (an opportunity whose originating lead is this lead): the server would create a new one,
   * so the page asks first (D365 does), offering those records and "Create a new …". Otherwise it
   * just moves: the server creates, reuses the record bound on an earlier visit, or asks for one
   * (CROSS_ENTITY_TARGET_REQUIRED, see pickTarget).
   */
  const pressNext = async () => {
    if (busy) return;
    if (choosing) { focusChoice(); return; }
    const mayAsk = (bar.instance.process.stages || []).some((st) => st.via && st.creates);
    if (!mayAsk) { act('next', {}, { after: movedTo }); return; }
    if (!(await flush())) return;
    busy = true;
    pending = { kind: 'next', step: null };
    showPending();
    let offer = null;
    try {
      offer = await offerNext();
    } catch {
      offer = null; // the move itself says what is wrong
    } finally {
      busy = false;
      pending = null;
    }
    if (!offer) { act('next', {}, { after: movedTo }); return; }
    choosing = offer;
    flyoutError = null;
    draw();
    focusChoice();
  };

  /** The picker to show before moving on, or null to just move (see pressNext). */
  const offerNext = async () => {
    const inst = (await gql(AHEAD, { id: bar.instance.id })).processInstance;
    // A refused move is the server's to explain (the gate, someone else's change, the end).
    if (!inst || !inst.canMoveNext || inst.version !== bar.instance.version) return null;
    const next = inst.activePath[inst.traversedPath.length];
    if (!next || !next.via || !next.viaEntity || !next.creates || next.entity === inst.activeStage.entity) return null;
    // A record of that entity was bound on an earlier visit (moving forward again after going back): it is reused.
    const bound = new Set([inst.record.entity, inst.activeRecord.entity, ...inst.history.map((v) => v.stage && v.stage.entity)]);
    if (bound.has(next.entity)) return null;
    const anchor = [inst.activeRecord, inst.record].find((r) => r.entity === next.viaEntity);
    if (!anchor) return null;
    const page = (await gql(RELATED, { e: next.entity, w: { [next.via]: anchor.id } })).records;
    if (!page.items.length) return null;
    return { stage: next, anchor, items: page.items, total: page.total, pick: next.creates ? CREATE_NEW : null, error: null };
  };

  const focusChoice = () => {
    const box = el.querySelector('#next-pick');
    (box?.querySelector('input:checked') || box?.querySelector('input'))?.focus();
  };

  /** Close the picker; focus goes back to Next Stage (the button that opened it). */
  const closeChoice = () => {
    choosing = null;
    draw();
    el.querySelector('#bar-next')?.focus();
  };

  const moveChosen = async () => {
    const offer = choosing;
    if (!offer || busy) return;
    if (offer.pick === null) {
      offer.error = `Pick the ${entityLabel(offer.stage.entity)} to continue with, or Cancel.`;
      draw();
      focusChoice();
      return;
    }
    if (!(await flush())) return; // the step says what is wrong; the picker stays
    const moved = await act('next', offer.pick === CREATE_NEW ? {} : { targetRecordId: offer.pick }, { after: movedTo });
    if (!moved) { choosing = null; draw(); } // the refusal is said beside the buttons
    // Back to the button that opened the picker (Next Stage, or Finish on the last stage), as a dialog does.
    (el.querySelector('#bar-next') || el.querySelector('#bar-finish') || el.querySelector('#flyout-title'))?.focus();
  };

  /** The Next Stage picker: the related records as radio options, "Create a new …" first (preselected). */
  const choiceDialog = () => {
    const offer = choosing;
    const { stage, anchor } = offer;
    const label = entityLabel(stage.entity);
    const via = meta.entity(stage.entity)?.fields.find((f) => f.name === stage.via)?.label || stage.via;
    const count = offer.items.length;
    const option = (value, id, ...text) => h('label', { class: `next-pick-option${value === CREATE_NEW ? ' is-new' : ''}`, for: id },
      h('input', { type: 'radio', name: 'next-pick', id, value, checked: offer.pick === value,
        onchange: () => { offer.pick = value; offer.error = null; el.querySelector('#next-pick-error').textContent = ''; } }),
      h('span', { class: 'next-pick-text' }, ...text));
    return h('div', {
      id: 'next-pick', class: 'next-pick', role: 'dialog', 'aria-labelledby': 'next-pick-title', 'aria-describedby': 'next-pick-desc',
      onkeydown: (event) => { if (event.key === 'Escape') { event.preventDefault(); event.stopPropagation(); closeChoice(); } },
    }, h('form', { novalidate: true, onsubmit: (event) => { event.preventDefault(); moveChosen(); } },
    h('h4', { id: 'next-pick-title' }, `Which ${label} for ${stage.label}?`),
    h('p', { id: 'next-pick-desc', class: 'next-pick-desc' },
      `${count === 1 ? `1 ${label} already has` : `${offer.total} ${label} records already have`} ${via} “${recordTitle(anchor)}”.`
      + `${offer.total > count ? ` The ${count} newest are listed.` : ''}`
      + `${stage.creates ? ` Continue with ${count === 1 ? 'it' : 'one of them'}, or create a new one.` : ` Pick the one to continue with.`}`),
    h('fieldset', { class: 'next-pick-options' },
      h('legend', { class: 'sr-only' }, `${label} for ${stage.label}`),
      stage.creates ? option(CREATE_NEW, 'next-pick-new', `Create a new ${label}`) : null,
      ...offer.items.map((r) => option(r.id, `next-pick-${slug(r.id)}`,
        h('span', { class: 'next-pick-name' }, recordTitle(r)),
        h('span', { class: 'next-pick-when' }, `created ${formatDateTime(r.createdAt)}`)))),
    h('p', { id: 'next-pick-error', class: 'field-error', role: 'alert' }, offer.error || ''),
    h('div', { class: 'next-pick-actions' },
      h('button', { type: 'submit', id: 'next-pick-move', class: 'btn btn-primary btn-small' }, `Move to ${stage.label}`),
      h('button', { type: 'button', id: 'next-pick-cancel', class: 'btn btn-small', onclick: closeChoice }, 'Cancel'))));
  };

  /**
   * A command on its way: the bar is aria-busy, its command buttons are aria-disabled, and the one
   * pressed says what is happening ("Moving…"), until the next drawing shows the outcome.
   */
  const showPending = () => {
    const on = Boolean(pending);
    if (on) el.setAttribute('aria-busy', 'true'); else el.removeAttribute('aria-busy');
    el.querySelectorAll('.flyout-actions button, .bar-tools button, .action-step button, #switch-panel button').forEach((b) => {
      if (on) b.setAttribute('aria-disabled', 'true'); else b.removeAttribute('aria-disabled');
    });
    if (!on) return;
    const [selector, words] = pending.kind === 'action' ? [`#action-${slug(pending.step)}`, 'Running…'] : PENDING[pending.kind] || [];
    const button = selector ? el.querySelector(selector) : null;
    if (button) mount(button, words);
  };

  const activeBarStage = () => (bar ? bar.stages.find((s) => s.state === 'ACTIVE') || null : null);

  // ----------------------------------------------------------------- drawing

  const shownStage = () => {
    if (selected) {
      const found = bar.stages.find((s) => s.stage.name === selected);
      if (found) return found;
    }
    const activeName = bar.instance.activeStage.name;
    return bar.stages.find((s) => s.stage.name === activeName) || bar.stages[bar.stages.length - 1];
  };

  /** The time spent in a stage over all its visits: {seconds, visits}, or null when never visited. */
  const timeInStage = (name) => {
    const visits = bar.instance.history.filter((v) => v.stage && v.stage.name === name);
    if (!visits.length) return null;
    return { seconds: visits.reduce((sum, v) => sum + (v.seconds ?? secondsSince(v.enteredAt, v.exitedAt) ?? 0), 0), visits: visits.length };
  };

  /** The stage an abandoned instance stopped at. */
  const isStoppedAt = (s) => bar.instance.status === 'ABORTED' && s.stage.name === bar.instance.activeStage.name;

  const chevrons = () => {
    const shown = shownStage();
    const total = bar.stages.length;
    const list = h('ol', { class: 'chevrons', 'aria-label': `Stages of ${bar.instance.process.label}` });
    bar.stages.forEach((s, i) => {
      const isActive = s.stage.name === bar.instance.activeStage.name;
      const stopped = isStoppedAt(s);
      const state = s.state;
      const stateWords = stopped ? 'abandoned here' : STATE_WORDS[state];
      const category = s.stage.category ? categoryWords(s.stage.category) : null;
      // Seen and heard alike (WCAG 2.5.3, label in name): the name says what the chevron shows, in its order.
      const metaText = [`Stage ${i + 1} of ${total}`, category, entityLabel(s.stage.entity)].filter(Boolean).join(' · ');
      const expanded = open && s === shown;
      // The active stage's sla: time left, or overdue by (D365 shows it on the stage too).
      const sla = isActive && bar.instance.status === 'ACTIVE' ? slaWords(s) : null;
      const namePrefix = `${s.stage.label}: ${metaText.charAt(0).toLowerCase()}${metaText.slice(1)}, `;
      const button = h('button', {
        type: 'button', id: `chev-${slug(s.stage.name)}`, class: 'chev-button',
        'aria-controls': expanded ? 'flyout' : null, 'aria-expanded': String(expanded),
        'aria-current': isActive && bar.instance.status === 'ACTIVE' ? 'step' : null,
        // The full label, whatever the chevron's width cuts off: in the accessible name and as a tooltip. With an
        // sla, its time counts in the name as on screen (the countdown below keeps it in step).
        'aria-label': `${namePrefix}${sla ? sla.text : stateWords}`,
        ...(sla ? { dataset: { slaDue: s.dueAt || bar.instance.dueAt, namePrefix } } : {}),
        title: s.stage.label,
        tabindex: s === shown ? '0' : '-1',
        onclick: () => pressStage(s),
        onkeydown: (event) => roam(event, list),
      },
      // The mark is drawn by CSS (attr(data-icon)), so the chevron's visible text is its words only (label in name).
      h('span', { class: 'chev-icon', 'aria-hidden': 'true', dataset: { icon: stopped ? '■' : state === 'COMPLETED' ? '✓' : String(i + 1) } }),
      h('span', { class: 'chev-text' },
        h('span', { class: 'chev-name' }, s.stage.label), ' ',
        h('span', { class: 'chev-meta' }, metaText), ' ',
        sla ? h('span', { class: `chev-state chev-sla${sla.overdue ? ' is-overdue' : ''}` }, sla.el())
          : h('span', { class: 'chev-state' }, stateWords)));
      list.append(h('li', { class: `chev is-${state.toLowerCase()}${expanded ? ' is-shown' : ''}${stopped ? ' is-stopped' : ''}`,
        dataset: { stage: s.stage.name } }, button));
    });
    return list;
  };

  /** A click on a chevron: its flyout opens; on the stage whose flyout is open, it closes (D365's toggle). */
  const pressStage = (s) => {
    if (open && s === shownStage()) { closeFlyout(); return; }
    selected = s.stage.name;
    open = true;
    flyoutError = null;
    choosing = null;
    draw();
    el.querySelector('#flyout-title')?.focus();
  };

  /** Close the flyout; focus goes to the chevron of the stage it showed. */
  const closeFlyout = () => {
    const was = shownStage();
    open = false;
    choosing = null;
    draw();
    el.querySelector(`#chev-${slug(was.stage.name)}`)?.focus();
  };

  /** Pin (dock) or unpin the flyout; the choice is this browser's from now on. */
  const togglePin = () => {
    pinned = !pinned;
    writePinned(pinned);
    draw();
    el.querySelector('#flyout-pin')?.focus();
  };

  /**
   * The active stage's sla as words, or null without one: "2 d 5 h left" counting down (redrawn when
   * due), or "Overdue by 5 min" counting up. `el()` makes a fresh element (the chevron and the flyout each show one).
   */
  const slaWords = (s) => {
    const due = s.dueAt || bar.instance.dueAt;
    if (!due) return null;
    const overdue = bar.instance.overdue || Date.parse(due) <= Date.now();
    if (overdue) {
      return { overdue, text: `overdue by ${duration(secondsSince(due))}`, el: () => h('span', {}, 'Overdue by ', clock(due)) };
    }
    return { overdue, text: `${duration(-secondsSince(due))} left`, el: () => h('span', { class: 'countdown', 'data-until': due }, `${duration(-secondsSince(due))} left`) };
  };

  /** Arrow keys, Home and End move between chevrons (one tab stop for the whole bar). */
  const roam = (event, list) => {
    if (event.key === 'Escape') { escapeCloses(event); return; }
    const buttons = [...list.querySelectorAll('button')];
    const at = buttons.indexOf(event.currentTarget);
    const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const target = buttons[Math.max(0, Math.min(buttons.length - 1, to))];
    buttons.forEach((b) => b.setAttribute('tabindex', b === target ? '0' : '-1'));
    target.focus();
    target.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  };

  const stepField = (stage, barStep) => {
    const entity = meta.entity(stage.entity);
    const field = entity?.fields.find((f) => f.name === barStep.step.field);
    return field ? { ...field, label: barStep.step.label } : { name: barStep.step.field || barStep.step.name, label: barStep.step.label, type: 'text', options: [] };
  };

  /** The alert for edits that clash with someone else's change of the same fields. */
  const clashError = (target, clashes) => {
    const names = clashes.map((d) => d.fieldDef.label);
    const many = clashes.length > 1;
    return {
      text: `Someone else also changed ${words(names)} on this ${entityLabel(target.entity)} while you were editing. `
        + `Your ${many ? 'values are' : 'value is'} kept in the ${many ? 'fields' : 'field'} and not saved yet.`,
      extra: h('div', { class: 'alert-actions' },
        h('button', { type: 'button', id: 'bar-keep-mine', class: 'btn btn-small btn-primary', onclick: () => keepMine(target) }, 'Save mine'),
        h('button', { type: 'button', id: 'bar-take-theirs', class: 'btn btn-small', onclick: () => takeTheirs(target) }, 'Use theirs')),
    };
  };

  /** Edits not yet saved that the flyout doesn't show (their stage moved away): say so, save or drop. */
  const strayNote = (shownRecordId) => {
    const stray = drafts.all().filter((d) => !(d.recordId === shownRecordId && controls.some((c) => c.name === d.field)));
    if (!stray.length) return null;
    const save = async () => {
      for (const id of new Set(stray.map((d) => d.recordId))) {
        drafts.keepMine(id);
        const target = [bar.instance.activeRecord, bar.instance.record, record].find((r) => r && r.id === id) || { id, entity: '' };
        await queue(() => resolveConflict(target));
      }
    };
    const drop = () => { stray.forEach((d) => drafts.drop(d.recordId, d.field)); draw(); };
    return h('div', { class: 'stray', role: 'group', 'aria-label': 'Edits not saved' },
      h('p', {}, `Not saved yet: ${words(stray.map((d) => `${d.fieldDef.label} “${displayValue(d.fieldDef, d.value)}”`))}.`),
      h('button', { type: 'button', class: 'btn btn-small', onclick: save }, 'Save'),
      h('button', { type: 'button', class: 'btn btn-small', onclick: drop }, 'Discard'));
  };

  const flyout = () => {
    const s = shownStage();
    const inst = bar.instance;
    const live = inst.status === 'ACTIVE';
    const isActive = s.stage.name === inst.activeStage.name && live;
    const stopped = isStoppedAt(s);
    const onRecord = isActive ? inst.activeRecord : null;
    // A caller who may read the stage's record but not change it sees its steps read-only, as the details form
    // shows them (a server without access control sends no permissions: everything is offered).
    const mayUpdate = !onRecord || !onRecord.permissions || onRecord.permissions.includes('update');
    const gate = new Set(isActive && flyoutError && flyoutError.missing ? flyoutError.missing : []);
    controls = [];
    controlsRecord = onRecord ? onRecord.id : null;

    const spent = isActive ? null : timeInStage(s.stage.name);
    const sla = isActive ? slaWords(s) : null;
    // Action steps that ran in this visit are done, not buttons; optional ones are alternatives (see actionStep).
    const ran = s.steps.filter((bs) => bs.step.kind === 'action' && bs.done && !bs.required);
    const facts = [
      s.stage.category ? h('span', {}, h('span', { class: 'muted' }, 'Category '), categoryWords(s.stage.category)) : null,
      h('span', {}, h('span', { class: 'muted' }, 'On '), onRecord && record && onRecord.id !== record.id
        ? h('a', { href: `/records/${encodeURIComponent(onRecord.id)}` }, `${entityLabel(s.stage.entity)} “${recordTitle(onRecord)}”`)
        : entityLabel(s.stage.entity)),
      isActive
        // activeStageStartedOn leaves out the time a reactivated instance sat finished or abandoned.
        ? h('span', {}, h('span', { class: 'muted' }, 'Time in stage '), h('span', { id: 'flyout-time' }, clock(inst.activeStageStartedOn)))
        : spent
          // The history lists each visit; the flyout adds them up, and says so.
          ? h('span', {}, h('span', { class: 'muted' }, 'Time spent '), duration(spent.seconds),
            spent.visits > 1 ? ` over ${spent.visits} visits` : '')
          : null,
      isActive && sla
        ? h('span', { id: 'flyout-sla', class: `sla${sla.overdue ? ' is-overdue' : ''}` }, sla.el(),
          h('span', { class: 'muted' }, ` (due ${formatDateTime(s.dueAt || inst.dueAt)})`))
        : null,
      isActive && inst.missingSteps.length
        ? h('span', { class: 'to-do' }, `${inst.missingSteps.length} required ${inst.missingSteps.length === 1 ? 'step' : 'steps'} left`)
        : null,
    ];

    const steps = s.steps.filter((bs) => !bs.hidden);
    let body;
    if (!steps.length) {
      body = h('p', { class: 'muted' }, 'This stage has no steps to fill in.');
    } else if (isActive) {
      body = h('form', { class: 'steps', novalidate: true, 'aria-label': `Steps of ${s.stage.label}`, onsubmit: (e) => e.preventDefault() },
        ...steps.map((bs) => {
          if (bs.step.kind === 'action') return actionStep(bs, { stage: s, ran, gated: gate.has(bs.step.name) });
          const control = fieldControl(stepField(s.stage, bs), {
            value: bs.value, idPrefix: `step-${slug(s.stage.name)}`, required: bs.required, locked: bs.locked || !mayUpdate,
            recommendation: bs.recommendation, done: bs.done, onCommit: queueSave,
          });
          if (bs.done) control.el.classList.add('is-done');
          if (gate.has(bs.step.name)) control.setError('Required to move to the next stage.');
          controls.push(control);
          return control.el;
        }));
      // What the user typed and hasn't saved stays, over the fresh values.
      drafts.overlay(onRecord.id, controls);
    } else {
      body = h('dl', { class: 'steps steps-readonly' }, ...steps.map((bs) => (bs.step.kind === 'action'
        ? actionStep(bs, { stage: s })
        : markRequired(fieldDisplay(stepField(s.stage, bs), bs.value,
          bs.done ? h('span', { class: 'done-mark' }, h('span', { 'aria-hidden': 'true' }, ' ✓'), srOnly(' done')) : null), bs))));
    }

    const stageIndex = bar.stages.indexOf(s);
    const isLast = stageIndex === bar.stages.length - 1;
    const firstTraversed = stageIndex === 0;
    // The active stage's gates that fail now, said beside Next Stage (or Finish) from the bar's fresh data;
    // while a refusal says them in the alert, they are not said twice.
    const gates = isActive && !(flyoutError && flyoutError.gates && flyoutError.gates.length) ? (s.unmetGates || []) : [];
    const gateNote = gates.length
      ? h('div', { id: 'bar-gates', class: 'gate-note' }, h('span', { class: 'gate-note-lead' }, 'Before moving on:'),
        h('ul', {}, ...gates.map((g) => h('li', {}, sentence(g)))))
      : null;
    const gated = gateNote ? 'bar-gates' : null;
    const buttons = [];
    if (isActive) {
      buttons.push(h('button', { type: 'button', id: 'bar-previous', class: 'btn', disabled: firstTraversed,
        onclick: () => act('previous', {}, { after: (r) => `Moved back to ${r.activeStage.label}.` }) }, h('span', { 'aria-hidden': 'true' }, '‹ '), 'Previous Stage'));
      if (isLast) {
        buttons.push(h('button', { type: 'button', id: 'bar-finish', class: 'btn btn-primary', 'aria-describedby': gated,
          onclick: () => act('finish', {}, { after: () => `${inst.process.label} finished.` }) }, 'Finish'));
      } else {
        buttons.push(h('button', { type: 'button', id: 'bar-next', class: 'btn btn-primary', 'aria-describedby': gated,
          'aria-expanded': choosing ? 'true' : null, 'aria-controls': choosing ? 'next-pick' : null,
          onclick: pressNext }, 'Next Stage', h('span', { 'aria-hidden': 'true' }, ' ›')));
      }
    } else if (s.state === 'COMPLETED' && live) {
      buttons.push(h('button', { type: 'button', id: 'bar-set-active', class: 'btn btn-primary',
        onclick: () => act('setActive', { stage: s.stage.name }, { after: (r) => `${r.activeStage.label} is the active stage again.` }) }, 'Set Active'));
    }
    let noteText = null;
    // Required steps on fields the caller's roles hide: counted in "required steps left" and blocking Next Stage,
    // but not on screen; said, so that nobody hunts for a step only others can fill.
    const unseen = isActive
      ? s.steps.filter((bs) => bs.hidden && inst.missingSteps.some((m) => m.name === bs.step.name)).length : 0;
    if (isActive && !mayUpdate) {
      noteText = `Your roles may read this ${entityLabel(s.stage.entity)}, not change it: its steps are shown read-only.`;
    } else if (unseen) {
      noteText = `${unseen === 1 ? 'One required step is' : `${unseen} required steps are`} on ${unseen === 1 ? 'a field' : 'fields'} your roles can't see: someone whose roles can must fill ${unseen === 1 ? 'it' : 'them'} before this stage can move on.`;
    }
    if (stopped) noteText = 'The process was abandoned at this stage. “Reactivate” brings it back here. Shown read-only.';
    else if (!isActive && s.state === 'UPCOMING') {
      const required = steps.some((bs) => bs.required);
      noteText = `Comes later, once ${inst.activeStage.label} is done. Shown read-only${required ? '; required steps are marked *' : ''}.`;
    }
    else if (!isActive) noteText = live ? 'A completed stage, shown read-only. “Set Active” makes it the active stage again.' : 'Shown read-only.';
    const note = noteText ? h('p', { class: 'flyout-note' }, noteText) : null;

    // A clash with someone else's change is said until the user picks theirs or keeps theirs.
    const clashes = isActive ? drafts.clashes(onRecord.id).filter((d) => controls.some((c) => c.name === d.field)) : [];
    const said = [clashes.length ? clashError(onRecord, clashes) : null, flyoutError].filter(Boolean);
    const tone = said.length === 1 && said[0].tone ? ` is-${said[0].tone}` : '';
    const error = h('div', { id: 'flyout-error', class: `inline-error${tone}`, role: 'alert' },
      said.map((e) => [h('p', { class: 'alert-text' }, e.text), e.extra || null]));
    const stateClass = stopped ? 'abandoned' : s.state.toLowerCase();
    const tag = isActive ? 'Active stage' : stopped ? 'Abandoned' : s.state === 'COMPLETED' ? 'Completed' : 'Upcoming';
    return h('div', { id: 'flyout', class: `flyout is-${stateClass}${pinned ? ' is-pinned' : ''}`, role: 'region', 'aria-labelledby': 'flyout-title',
      onkeydown: escapeCloses },
      h('div', { class: 'flyout-head' },
        h('div', { class: 'flyout-title-row' },
          h('h3', { id: 'flyout-title', tabindex: '-1' }, s.stage.label,
            h('span', { class: `state-tag state-${stateClass}` }, tag)),
          flyoutTools()),
        h('p', { class: 'flyout-facts' }, ...facts.filter(Boolean))),
      note, body,
      isActive ? strayNote(onRecord.id) : null,
      h('div', { class: 'flyout-foot' }, isActive && choosing ? choiceDialog() : null, error,
        isActive ? h('span', { id: 'bar-saving', class: 'saving', role: 'status' }, saveNote) : null,
        gateNote,
        buttons.length ? h('div', { class: 'flyout-actions' }, ...buttons) : null));
  };

  /**
   * An action step. On the active stage: a button (with its required mark and gate note) until it ran
   * in this visit, then "done" (docs/decisions.md: an action step runs once a visit); once one optional
   * action step ran, the stage's other optional ones are not offered either (alternatives, as "Close as
   * won" and "Close as lost"). Elsewhere a line: done, or on a completed stage a required one that
   * gated the stage (it ran), or "not run".
   */
  const actionStep = (bs, { stage, ran = [], gated = false }) => {
    const active = stage.state === 'ACTIVE' && bar.instance.status === 'ACTIVE';
    const done = bs.done || (stage.state === 'COMPLETED' && bs.required);
    const doneMark = (id = null) => h('span', { class: 'done-mark', id }, h('span', { 'aria-hidden': 'true' }, '✓ '), 'done');
    if (!active) {
      let state = doneMark();
      if (!done) {
        state = stage.state === 'COMPLETED'
          // The server keeps which action steps ran only for the active stage's visit.
          ? h('span', { class: 'muted', title: 'Whether an optional action step ran is kept only while its stage is active.' }, 'Optional, not tracked')
          : h('span', { class: 'muted' }, stage.state === 'UPCOMING' ? 'Not run yet' : 'Not run');
      }
      return markRequired(h('div', { class: 'readonly-field action-step', dataset: { field: bs.step.name } },
        h('dt', {}, bs.step.label), h('dd', {}, state)), bs);
    }
    const instead = !bs.done && !bs.required ? ran.find((other) => other !== bs) : null;
    if (bs.done || instead) {
      return h('div', { class: `field action-step${bs.done ? ' is-done' : ' is-skipped'}`, dataset: { field: bs.step.name } },
        h('div', { class: 'action-row' }, h('span', { class: 'action-label' }, bs.step.label),
          bs.done ? doneMark(`action-${slug(bs.step.name)}-done`) : h('span', { class: 'muted' }, `Not offered: ${instead.step.label} ran`)),
        h('p', { id: `action-${slug(bs.step.name)}-error`, class: 'field-error' }, ''));
    }
    const id = `action-${slug(bs.step.name)}`;
    const described = [bs.required ? `${id}-required` : null, bs.done ? `${id}-done` : null, `${id}-error`].filter(Boolean).join(' ');
    return h('div', { class: `field action-step${bs.done ? ' is-done' : ''}${gated ? ' has-error' : ''}`, dataset: { field: bs.step.name } },
      h('div', { class: 'action-row' },
        h('button', { type: 'button', class: 'btn btn-small', id, 'aria-describedby': described,
          onclick: () => act('action', { step: bs.step.name }, { after: () => `${bs.step.label}: done.` }) },
        h('span', { 'aria-hidden': 'true' }, '▶ '), bs.step.label),
        bs.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, '*') : null,
        bs.required ? h('span', { id: `${id}-required`, class: 'sr-only' }, 'Required step.') : null,
        bs.done ? h('span', { class: 'done-mark', id: `${id}-done` }, h('span', { 'aria-hidden': 'true' }, '✓ '), 'done') : null),
      h('p', { id: `${id}-error`, class: 'field-error' }, gated ? 'Required to move to the next stage.' : ''));
  };

  /** A required step of a read-only stage gets the form's mark: "*" to see, "required" to hear. */
  const markRequired = (node, bs) => {
    const term = bs.required ? node.querySelector('dt') : null;
    if (term) term.append(h('span', { class: 'req', 'aria-hidden': 'true' }, ' *'), srOnly(' (required)'));
    return node;
  };

  /** The flyout's own buttons: pin (keep it open across moves and visits) and close. */
  const flyoutTools = () => h('div', { class: 'flyout-tools' },
    h('button', { type: 'button', id: 'flyout-pin', class: 'btn btn-quiet btn-small', 'aria-pressed': String(pinned),
      title: pinned ? 'Pinned: stays open across moves and visits' : 'Keep this panel open across moves and visits', onclick: togglePin },
    'Keep open'),
    h('button', { type: 'button', id: 'flyout-close', class: 'btn btn-quiet btn-small', 'aria-label': 'Close stage details',
      title: 'Close (Esc)', onclick: closeFlyout }, h('span', { 'aria-hidden': 'true' }, '✕')));

  /** Escape closes the flyout, from the chevrons or the flyout, but not from a field being typed in, nor after a widget used it. */
  const escapeCloses = (event) => {
    if (event.key !== 'Escape' || event.defaultPrevented || !open) return;
    const target = event.target;
    if (target.matches && target.matches('input:not([type=button]):not([type=checkbox]):not([type=radio]), textarea, select')) return;
    event.preventDefault();
    closeFlyout();
  };

  const tools = () => {
    const inst = bar ? bar.instance : null;
    // Switch Process is about the page's record: its own processes (a record can show another's instance).
    const entity = record.entity;
    // And the processes of other records that reached this one (the lead's on its opportunity): switchable back.
    const reached = (record.instances || []).map((i) => meta.process(i.process.name)).filter((p) => p && p.entity !== entity);
    const choices = [...meta.processesOf(entity), ...reached.filter((p, n) => reached.indexOf(p) === n)];
    const ownInstance = inst && inst.record.id === record.id;
    const buttons = [];
    if (choices.length) {
      buttons.push(h('button', { type: 'button', id: 'bar-switch', class: 'btn btn-quiet', 'aria-expanded': String(switchOpen),
        'aria-controls': 'switch-panel', onclick: () => { switchOpen = !switchOpen; draw(); if (switchOpen) el.querySelector('#switch-select')?.focus(); } }, 'Switch Process'));
    }
    if (inst && inst.status === 'ACTIVE' && confirmingAbandon) {
      // One click must not abandon (in the sales pack it disqualifies the lead): ask, focus on No.
      const cancel = () => { confirmingAbandon = false; draw(); el.querySelector('#bar-abandon')?.focus(); };
      buttons.push(h('div', { class: 'confirm', role: 'group', 'aria-labelledby': 'bar-abandon-ask',
        onkeydown: (event) => { if (event.key === 'Escape') { event.preventDefault(); event.stopPropagation(); cancel(); } } },
      h('span', { id: 'bar-abandon-ask', class: 'confirm-text' }, `Abandon ${inst.process.label}?`),
      h('button', { type: 'button', id: 'bar-abandon-yes', class: 'btn btn-small btn-danger',
        onclick: () => { confirmingAbandon = false; act('abandon', {}, { where: 'tools', after: () => `${inst.process.label} abandoned.` }); } }, 'Yes, abandon'),
      h('button', { type: 'button', id: 'bar-abandon-no', class: 'btn btn-small', onclick: cancel }, 'No')));
    } else if (inst && inst.status === 'ACTIVE') {
      buttons.push(h('button', { type: 'button', id: 'bar-abandon', class: 'btn btn-quiet btn-danger',
        onclick: () => { confirmingAbandon = true; switchOpen = false; draw(); el.querySelector('#bar-abandon-no')?.focus(); } }, 'Abandon'));
    } else if (inst) {
      buttons.push(h('button', { type: 'button', id: 'bar-reactivate', class: 'btn btn-primary',
        onclick: () => act('reactivate', {}, { where: 'tools', after: (r) => `${inst.process.label} is active again, on ${r.activeStage.label}.` }) }, 'Reactivate'));
    }
    let panel = null;
    if (switchOpen) {
      const close = () => { switchOpen = false; draw(); el.querySelector('#bar-switch')?.focus(); };
      const instances = record.instances || [];
      const select = h('select', { id: 'switch-select' }, ...choices.map((p) => {
        const existing = instances.find((i) => i.process.name === p.name);
        const where = existing ? `${STATUS_WORDS[existing.status] || existing.status}, ${existing.activeStage.label}` : 'not started';
        return h('option', { value: p.name, selected: Boolean(inst) && p.name === inst.process.name }, `${p.label} (${where})`);
      }));
      panel = h('div', { id: 'switch-panel', class: 'switch-panel', role: 'group', 'aria-label': 'Switch Process',
        onkeydown: (event) => { if (event.key === 'Escape') { event.preventDefault(); event.stopPropagation(); close(); } } },
      h('label', { for: 'switch-select' }, 'Process'), select,
      h('button', { type: 'button', id: 'switch-go', class: 'btn btn-primary btn-small', onclick: () => {
        if (ownInstance && select.value === inst.process.name) { close(); return; }
        act('switch', { recordId: record.id, process: select.value },
          { where: 'tools', after: () => `Switched to ${meta.process(select.value)?.label || select.value}.` });
      } }, 'Switch'),
      h('button', { type: 'button', class: 'btn btn-small', onclick: close }, 'Cancel'),
      h('p', { class: 'hint' }, choices.length > 1 || !ownInstance
        ? 'The other processes keep their stage and history.'
        : `No other process of yours runs on ${entityLabel(entity)} records.`));
    }
    const error = h('div', { id: 'tools-error', class: 'inline-error', role: 'alert' },
      toolError ? [h('p', { class: 'alert-text' }, toolError.text), toolError.extra || null] : null);
    return { buttons: h('div', { class: 'bar-tools' }, ...buttons), panel, error };
  };

  const draw = () => {
    if (controlsRecord) drafts.capture(controlsRecord, controls);
    keepFocus(el, () => {
      if (!bar) {
        const t = tools();
        controls = [];
        controlsRecord = null;
        mount(el, h('div', { class: 'bar-head' },
          h('div', {}, h('h2', { id: 'bar-title', tabindex: '-1' }, 'No process'),
            h('p', { class: 'bar-sub' }, meta.processesOf(record.entity).length
              // The page can't tell "none runs" from "none you may see": this is true either way.
              ? 'No process you can use runs on this record. Use “Switch Process” to start one.'
              : `No process of yours runs on ${entityLabel(record.entity)} records.`)),
          t.buttons), t.panel, t.error);
        return;
      }
      const inst = bar.instance;
      const t = tools();
      const position = bar.stages.findIndex((s) => s.stage.name === inst.activeStage.name) + 1;
      const count = h('span', { id: 'bar-position' }, `Stage ${position || '?'} of ${bar.stages.length}`);
      const statusText = inst.status === 'ACTIVE'
        ? [h('span', { class: 'status status-active' }, 'Active'), ' for ', h('span', { id: 'bar-timer' }, processTimer()),
          ' · ', count, ': ', inst.activeStage.label, ' for ', clock(inst.activeStageStartedOn)]
        : [h('span', { class: `status status-${inst.status.toLowerCase()}` }, STATUS_WORDS[inst.status]),
          inst.completedOn ? [' on ', timeEl(inst.completedOn)] : null,
          ' · was active for ', h('span', { id: 'bar-timer' }, processTimer()),
          ` · ${inst.status === 'FINISHED' ? 'finished' : 'stopped'} at ${inst.activeStage.label} (`, count, ')',
          // The `finish` outcome of the path it ended on, by its label in the instance's own definition.
          inst.outcome ? [' · ', h('span', { id: 'bar-outcome', class: 'outcome' }, 'Outcome: ',
            h('strong', {}, (inst.process.outcomes || []).find((o) => o.name === inst.outcome)?.label || inst.outcome))] : null];
      // The instance may be another record's (this record is the one a stage of it works on).
      const origin = record && inst.record.id !== record.id
        ? h('p', { class: 'bar-origin' }, 'Started on ', `${entityLabel(inst.record.entity)} `,
          h('a', { href: `/records/${encodeURIComponent(inst.record.id)}` }, `“${recordTitle(inst.record)}”`))
        : null;
      // A redraw keeps where the user scrolled the rail to; a newly shown stage is scrolled into the middle.
      // (Where a scroll button was sending it, if the redraw cut its smooth scroll short.)
      const scrolled = railTarget ?? el.querySelector('.chevron-scroll')?.scrollLeft;
      const shownBefore = el.querySelector('.chev.is-shown')?.dataset.stage;
      mount(el,
        h('div', { class: 'bar-head' },
          h('div', { class: 'bar-heading' },
            h('div', { class: 'bar-title-row' },
              h('h2', { id: 'bar-title', tabindex: '-1' }, h('a', { href: `/processes/${encodeURIComponent(inst.process.name)}`, class: 'quiet-link' }, inst.process.label)),
              versionTag(inst.process)),
            h('p', { class: 'bar-sub' }, ...statusText), origin),
          t.buttons),
        t.panel, t.error,
        rail(),
        open ? flyout() : null);
      if (!open) { controls = []; controlsRecord = null; }
      const shown = el.querySelector('.chev.is-shown') || el.querySelector('.chev-button[aria-current="step"]')?.parentElement;
      const scroller = el.querySelector('.chevron-scroll');
      if (scrolled !== undefined && shown?.dataset.stage === shownBefore) {
        scroller.scrollLeft = scrolled;
      } else if (shown) {
        scroller.scrollLeft = Math.max(0, shown.offsetLeft - scroller.clientWidth / 2 + shown.clientWidth / 2);
      }
    });
    showPending();
    fitRail();
    // The button pressed went away (Finish, Abandon, Reactivate, a move that closed the flyout): focus
    // goes to the flyout's heading, else to the chevron that is the bar's tab stop.
    if (document.activeElement === document.body && el.dataset.hadFocus === 'true') {
      (el.querySelector('#flyout-title') || el.querySelector('.chev-button[tabindex="0"]') || el.querySelector('#bar-title'))?.focus();
    }
  };

  /**
   * The process timer, D365's "Active for 2 days": the time the instance has been active, so the
   * stretches it sat finished or abandoned don't count. The visits it left add up; the stage it is in
   * counts from activeStageStartedOn (which a reactivation moves on by the time it sat stopped).
   */
  const processTimer = () => {
    const inst = bar.instance;
    const visits = inst.history || [];
    const length = (v) => v.seconds ?? secondsSince(v.enteredAt, v.exitedAt) ?? 0;
    if (inst.status !== 'ACTIVE') {
      return duration(visits.length ? visits.reduce((sum, v) => sum + length(v), 0) : secondsSince(inst.createdAt, inst.completedOn));
    }
    // Ticks with the page's one timer (data-since), but is not one of the stage clocks (".clock"), which all agree.
    const ticking = (since, base = 0) => { const c = clock(since, base); c.className = 'process-clock'; return c; };
    if (!visits.length) return ticking(inst.createdAt); // no history to read: since it started
    const left = visits.filter((v) => v.exitedAt).reduce((sum, v) => sum + length(v), 0);
    return ticking(inst.activeStageStartedOn, left);
  };

  /** The definition's version (a hash of its meaning) as fine print: its first 8 digits, all of them in the tooltip. */
  const versionTag = (process) => (process.version
    ? h('span', { id: 'bar-version', class: 'bar-version', title: `Definition version ${process.version}` },
      h('span', { class: 'sr-only' }, 'Definition '), 'version ', h('code', {}, String(process.version).slice(0, 8)))
    : null);

  /** The chevrons in their scroller, with earlier/later buttons shown when they don't all fit (fitRail). */
  const rail = () => {
    const scroll = (direction) => {
      const scroller = el.querySelector('.chevron-scroll');
      const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
      const most = scroller.scrollWidth - scroller.clientWidth;
      railTarget = Math.min(most, Math.max(0, scroller.scrollLeft + direction * Math.max(120, scroller.clientWidth * 0.8)));
      scroller.scrollTo({ left: railTarget, behavior: still ? 'auto' : 'smooth' });
    };
    // Pointer aids: keyboard users move along the chevrons with the arrow keys, which scroll them into view.
    const button = (direction, label, arrow) => h('button', {
      type: 'button', class: `chev-scroll chev-scroll-${direction < 0 ? 'prev' : 'next'}`, tabindex: '-1', hidden: true,
      'aria-label': label, title: label, onclick: () => scroll(direction),
    }, h('span', { 'aria-hidden': 'true' }, arrow));
    return h('div', { class: 'chevron-rail' },
      button(-1, 'Show earlier stages', '‹'),
      h('div', { class: 'chevron-scroll', onscroll: fitRail }, chevrons()),
      button(1, 'Show later stages', '›'));
  };

  /** Show the rail's scroll buttons only when the chevrons overflow, each only when there is more its way. */
  const fitRail = () => {
    const scroller = el.querySelector('.chevron-scroll');
    if (!scroller) return;
    if (railTarget !== null && Math.abs(scroller.scrollLeft - railTarget) < 2) railTarget = null; // arrived
    const hidden = scroller.scrollWidth - scroller.clientWidth; // what doesn't fit
    // Each lies over the chevron cut off on its side, and goes when there is nothing more that way.
    el.querySelector('.chev-scroll-prev').hidden = hidden <= 1 || scroller.scrollLeft <= 1;
    el.querySelector('.chev-scroll-next').hidden = hidden <= 1 || scroller.scrollLeft >= hidden - 1;
  };

  /** Focus is in one of the active stage's step fields (typing, or about to). */
  const inStepField = () => controls.some((c) => c.el.contains(document.activeElement));

  /** Someone else's change would take away the step fields under the user's hands. */
  const movesAway = (next) => !next || next.instance.id !== bar.instance.id || next.instance.status !== bar.instance.status
    || next.instance.activeStage.name !== bar.instance.activeStage.name;

  const hold = (next) => {
    const box = el.querySelector('#flyout-error');
    if (!box) return;
    const where = next && next.instance.status === 'ACTIVE' && next.instance.id === bar.instance.id
      ? `moved this process to ${next.instance.activeStage.label}` : 'changed this process';
    box.classList.add('is-info');
    mount(box, h('p', { class: 'alert-text' }, `Someone else ${where}. The bar shows it when you leave this field; what you type here is kept and saved as usual.`));
  };

  /**
   * Someone else's change while the user is in a step field: the whole bar waits, but the step
   * fields the user hasn't touched (and that don't have the focus) show the fresh values at once,
   * so what is on screen is never an old value taken for theirs.
   */
  const refreshUntouched = (next) => {
    const active = next.stages.find((s) => s.stage.name === next.instance.activeStage.name);
    if (!active || !controlsRecord || next.instance.activeRecord.id !== controlsRecord) return;
    for (const c of controls) {
      if (c.touched() || c.el.contains(document.activeElement) || drafts.has(controlsRecord, c.name)) continue;
      const bs = active.steps.find((x) => x.step.field === c.name || x.step.name === c.name);
      if (bs && !same(bs.value, c.base())) c.set(bs.value);
    }
  };

  /** Draw the bar held back, once nothing holds it: no pressed pointer, and (for someone else's) no step field in use. */
  const applyWaiting = () => {
    if (!waiting || pointerHeld) return;
    if (!waiting.own && (inStepField() || pendingSaves)) return; // a save on its way reads the latest anyway
    const { next, pageRecord } = waiting;
    api.render(next, pageRecord);
  };

  // The sla's "… left" counts down; at the due time the bar is drawn again, overdue (as someone else's
  // change: it waits while the user is in a step field).
  const countdown = setInterval(() => {
    for (const node of el.querySelectorAll('[data-until]')) {
      const left = -secondsSince(node.dataset.until);
      if (left <= 0 && bar) { api.render(bar, record, { own: false }); return; }
      const text = `${duration(left)} left`;
      if (node.textContent !== text) node.textContent = text;
    }
    // The active chevron's accessible name counts with what it shows ("… left", "overdue by …": WCAG 2.5.3).
    for (const button of el.querySelectorAll('button[data-sla-due]')) {
      const since = secondsSince(button.dataset.slaDue);
      const name = `${button.dataset.namePrefix}${since >= 0 ? `overdue by ${duration(since)}` : `${duration(-since)} left`}`;
      if (button.getAttribute('aria-label') !== name) button.setAttribute('aria-label', name);
    }
  }, 1000);
  // The scroll buttons follow the bar's width (a window resized, a phone turned).
  const resizing = typeof ResizeObserver === 'function' ? new ResizeObserver(() => fitRail()) : null;
  if (resizing) resizing.observe(el);

  el.addEventListener('focusin', () => { el.dataset.hadFocus = 'true'; });
  el.addEventListener('focusout', (event) => {
    if (!el.contains(event.relatedTarget)) el.dataset.hadFocus = event.relatedTarget ? 'false' : 'true';
    if (waiting) setTimeout(applyWaiting, 0);
  });
  // A redraw between a button's press and release would swallow the click: wait for the release.
  el.addEventListener('pointerdown', () => {
    pointerHeld = true;
    const release = () => setTimeout(() => { pointerHeld = false; applyWaiting(); }, 0);
    window.addEventListener('pointerup', release, { once: true });
    window.addEventListener('pointercancel', release, { once: true });
  });

  const api = {
    el,
    /**
     * Show a fresh ProcessBar (null: no process) of `pageRecord`. Someone else's change (`own`
     * false) waits while the user is in one of the step fields, until they leave it: the fields are
     * not redrawn under their hands, so neither what they typed, nor the focus, nor an open picker is
     * lost. When it moves the stage away, the flyout says so meanwhile. Any redraw waits while a
     * pointer is pressed on the bar.
     */
    render(nextBar, pageRecord, { own = true } = {}) {
      const busyField = !own && inStepField();
      if (bar && (pointerHeld || busyField)) {
        waiting = { next: nextBar, pageRecord, own: own || Boolean(waiting && waiting.own) };
        if (busyField && movesAway(nextBar)) hold(nextBar);
        else if (busyField) refreshUntouched(nextBar);
        return;
      }
      waiting = null;
      if (bar && nextBar && bar.instance.id !== nextBar.instance.id) selected = null;
      if (!nextBar || !bar || nextBar.instance.id !== bar.instance.id || nextBar.instance.status !== 'ACTIVE') confirmingAbandon = false;
      // The picker answers one state of the instance: a move (anyone's) closes it.
      if (choosing && (!nextBar || nextBar.instance.id !== bar.instance.id || nextBar.instance.version !== bar.instance.version
        || nextBar.instance.status !== 'ACTIVE')) choosing = null;
      bar = nextBar;
      record = pageRecord;
      if (bar && selected && !bar.stages.some((s) => s.stage.name === selected)) selected = null;
      draw();
    },
    get instance() { return bar ? bar.instance : null; },
    /**
     * The server answers again after a request found it unreachable: the words saying so go, and the steps
     * that could not be saved are sent now, in order (their drafts were kept; a clash with a change made
     * meanwhile is said as any clash is).
     */
    reachable() {
      if (flyoutError && flyoutError.text === UNREACHABLE) flyoutError = null;
      if (toolError && toolError.text === UNREACHABLE) toolError = null;
      const unsaved = controls.filter((c) => c.dirty());
      unsaved.forEach((c) => c.setError(null));
      unsaved.forEach(queueSave);
      if (!unsaved.length) draw();
    },
    /** Errors from elsewhere that concern the bar (e.g. a refused refresh). */
    showError(text) { flyoutError = { text }; open = true; draw(); },
    /** Remember the step edits not saved yet in the drafts (the page keeps them across its views). */
    keep() { if (controlsRecord) drafts.capture(controlsRecord, controls); },
    destroy() {
      clearInterval(countdown);
      if (resizing) resizing.disconnect();
    },
  };
  return api;
}
