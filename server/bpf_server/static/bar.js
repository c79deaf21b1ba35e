// The process bar: one chevron per stage of the active path, the selected stage's flyout
// (its steps as inputs, or read-only for other stages), and the navigation buttons.
// Every move sends the instance's version as expectedVersion, so a concurrent change is
// refused (VERSION_CONFLICT) instead of overwritten.

import { gql, meta, recordTitle } from './api.js';
import { fieldControl, fieldDisplay } from './forms.js';
import { lookupPicker } from './lookup.js';
import { STATUS_WORDS } from './records.js';
import { announce, duration, h, keepFocus, mount, secondsSince, slug, srOnly, timeEl } from './util.js';

export const BAR_FIELDS = `
  instance { id name status version activeStageStartedOn createdAt completedOn canMoveNext
    process { name label entity }
    record { id entity version values }
    activeRecord { id entity version values }
    activeStage { name label entity }
    missingSteps { name label }
    history { stage { name label category entity } enteredAt exitedAt seconds by } }
  stages { state stage { name label category entity }
    steps { step { name label field kind required } value done required hidden locked recommendation } }`;

const RESULT = `__typename
  ... on ProcessInstance { id version status activeStage { name label } }
  ... on TransitionError { code message missingSteps currentVersion }`;

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

const STATE_WORDS = { COMPLETED: 'completed', ACTIVE: 'active stage', UPCOMING: 'upcoming' };

const entityLabel = (name) => meta.entity(name)?.label || name;
/** A category name as words: "needs_review" → "Needs review". */
const categoryWords = (name) => {
  const text = String(name).replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
};

/**
 * The bar for one record page. `onChanged({own})` refetches the page's data, which comes back
 * through render(). Returns {el, render(bar, record), destroy()}.
 */
export function createBar({ onChanged }) {
  const el = h('section', { class: 'bpf', 'aria-labelledby': 'bar-title' });
  let bar = null;          // the ProcessBar being shown
  let record = null;       // the page's record (for Switch Process)
  let selected = null;     // the stage name whose flyout shows; null: the active one
  let controls = [];       // the active stage's step controls
  let flyoutError = null;  // {text, extra} shown beside the flyout's buttons
  let toolError = null;    // shown beside Switch Process / Abandon / Reactivate
  let switchOpen = false;
  let busy = false;
  let saving = Promise.resolve(true);
  let pendingSaves = 0;
  let saveNote = '';       // "Saving…" / "Saved" beside the flyout's buttons
  const timer = setInterval(() => {
    if (!bar) return;
    const spent = duration(secondsSince(bar.instance.activeStageStartedOn));
    el.querySelectorAll('[data-clock]').forEach((clock) => { clock.textContent = spent; });
  }, 15000);

  const mutate = async (kind, variables) => {
    const [field, params, args] = MOVES[kind];
    const data = await gql(`mutation M(${params}) { ${field}(${args}) { ${RESULT} } }`, variables);
    return data[field];
  };

  // ----------------------------------------------------------------- saving steps

  const saveStep = async (control) => {
    const { value, problem } = control.read();
    if (problem) { control.setError(problem); return false; }
    if (!control.dirty()) return true;
    const target = bar.instance.activeRecord;
    let result;
    try {
      result = (await gql(UPDATE, { id: target.id, values: { [control.name]: value }, expectedVersion: target.version })).updateRecord;
    } catch (error) {
      control.setError(error.message);
      return false;
    }
    if (result.__typename === 'ValidationError') {
      if (result.currentVersion !== null && result.currentVersion !== undefined && !result.fieldErrors.length) {
        flyoutError = conflictError(`Someone else changed this ${entityLabel(target.entity)} while you were editing it.`);
        draw();
      } else {
        const own = result.fieldErrors.filter((fe) => !fe.field || fe.field === control.name);
        control.setError((own.length ? own : result.fieldErrors).map((fe) => fe.message).join(' ') || result.message);
      }
      return false;
    }
    control.setError(null);
    control.accept();
    if (flyoutError && flyoutError.missing) {
      const left = flyoutError.missing.filter((name) => name !== control.name);
      flyoutError = left.length ? describe({ code: 'STAGE_GATE', missingSteps: left }, activeBarStage()) : null;
    }
    target.version = result.version;
    target.values = result.values;
    return true;
  };

  const setSaveNote = (text) => {
    saveNote = text;
    const note = el.querySelector('#bar-saving');
    if (note) note.textContent = text;
  };

  const queueSave = (control) => {
    pendingSaves += 1;
    setSaveNote('Saving…');
    saving = saving.then(() => saveStep(control)).then(async (ok) => {
      if (ok) await onChanged({ own: true });
      return ok;
    }).finally(() => {
      pendingSaves -= 1;
      if (!pendingSaves) setSaveNote(el.querySelector('[aria-invalid="true"]') ? 'Not saved' : 'Saved');
    });
    return saving;
  };

  /** Save every step edited but not yet saved (before a move), in order; false if one failed. */
  const flush = async () => {
    await saving;
    let ok = true;
    for (const control of controls) {
      if (control.read().problem) { control.setError(control.read().problem); ok = false; continue; }
      if (control.dirty()) ok = (await saveStep(control)) && ok;
    }
    return ok;
  };

  // ----------------------------------------------------------------- moving

  const conflictError = (text) => ({
    text: `${text} Reload to see the latest before you try again.`,
    extra: h('button', { type: 'button', class: 'btn btn-small', onclick: () => { flyoutError = null; toolError = null; onChanged({ own: false }); } }, 'Reload'),
  });

  const describe = (error, stage) => {
    switch (error.code) {
      case 'STAGE_GATE': {
        const steps = stage ? stage.steps : [];
        const names = error.missingSteps.map((n) => steps.find((s) => s.step.name === n)?.step.label || n);
        return { text: `Fill in the required ${names.length === 1 ? 'step' : 'steps'} first: ${names.join(', ')}.`, missing: error.missingSteps };
      }
      case 'VERSION_CONFLICT':
        return conflictError('Someone else changed this process since you loaded it'
          + `${error.currentVersion !== null && error.currentVersion !== undefined ? ` (it is now at version ${error.currentVersion})` : ''}.`);
      case 'FORBIDDEN':
        return { text: `Not allowed: your roles don't let you change this process. ${error.message}` };
      case 'NOT_ACTIVE':
        return { text: `This process is ${STATUS_WORDS[bar.instance.status]?.toLowerCase() || 'not active'}: reactivate it first.` };
      default:
        return { text: error.message };
    }
  };

  const act = async (kind, variables = {}, { where = 'flyout', after = null } = {}) => {
    if (busy) return;
    const stage = activeBarStage();
    if (where === 'flyout' && !(await flush())) return;
    busy = true;
    setBusy(true);
    flyoutError = null;
    toolError = null;
    let result;
    try {
      const base = kind === 'switch' ? {} : { instanceId: bar.instance.id };
      if (['next', 'previous', 'setActive', 'finish', 'abandon'].includes(kind)) base.expectedVersion = bar.instance.version;
      result = await mutate(kind, { ...base, ...variables });
    } catch (error) {
      result = { __typename: 'TransitionError', code: 'ERROR', message: error.message, missingSteps: [] };
    } finally {
      busy = false;
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
      return;
    }
    selected = null;
    switchOpen = false;
    saveNote = '';
    if (after) announce(after(result));
    await onChanged({ own: true, instance: result });
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
    const go = h('button', { type: 'button', class: 'btn btn-primary btn-small', onclick: () => {
      if (!chosen) { picker.input.focus(); return; }
      act('next', { targetRecordId: chosen }, { after: (r) => `Moved to ${r.activeStage.label}.` });
    } }, `Move to ${next.stage.label}`);
    return {
      tone: 'info',
      text: `${next.stage.label} works on a ${entityLabel(entity)} record. Pick the one to continue with`
        + `${link ? ` (${entityLabel(entity)} records whose ${link.label} is “${recordTitle(to)}”)` : ''}.`,
      extra: h('div', { class: 'target-pick' }, h('label', { for: 'bar-target' }, entityLabel(entity)), picker.el, go),
    };
  };

  const setBusy = (on) => el.querySelectorAll('.flyout-actions button, .bar-tools button').forEach((b) => {
    if (on) b.setAttribute('aria-disabled', 'true'); else b.removeAttribute('aria-disabled');
  });

  const activeBarStage = () => bar.stages.find((s) => s.state === 'ACTIVE') || null;

  // ----------------------------------------------------------------- drawing

  const shownStage = () => {
    if (selected) {
      const found = bar.stages.find((s) => s.stage.name === selected);
      if (found) return found;
    }
    const activeName = bar.instance.activeStage.name;
    return bar.stages.find((s) => s.stage.name === activeName) || bar.stages[bar.stages.length - 1];
  };

  const timeInStage = (name) => {
    const visits = bar.instance.history.filter((v) => v.stage && v.stage.name === name);
    if (!visits.length) return null;
    return visits.reduce((sum, v) => sum + (v.seconds ?? secondsSince(v.enteredAt, v.exitedAt) ?? 0), 0);
  };

  const chevrons = () => {
    const shown = shownStage();
    const total = bar.stages.length;
    const stopped = bar.instance.status === 'ABORTED';
    const list = h('ol', { class: 'chevrons', 'aria-label': `Stages of ${bar.instance.process.label}` });
    bar.stages.forEach((s, i) => {
      const isActive = s.stage.name === bar.instance.activeStage.name;
      const state = s.state;
      const stateWords = stopped && isActive ? 'abandoned here' : STATE_WORDS[state];
      const category = s.stage.category ? categoryWords(s.stage.category) : null;
      const metaText = [category, entityLabel(s.stage.entity)].filter(Boolean).join(' · ');
      const button = h('button', {
        type: 'button', id: `chev-${slug(s.stage.name)}`, class: 'chev-button',
        'aria-controls': 'flyout', 'aria-expanded': String(s === shown),
        'aria-current': isActive && bar.instance.status === 'ACTIVE' ? 'step' : null,
        'aria-label': `${s.stage.label}: stage ${i + 1} of ${total}, ${stateWords}`
          + `${category ? `, category ${category}` : ''}, on ${entityLabel(s.stage.entity)}`,
        tabindex: s === shown ? '0' : '-1',
        onclick: () => { selected = s.stage.name; flyoutError = null; draw(); el.querySelector('#flyout-title')?.focus(); },
        onkeydown: (event) => roam(event, list),
      },
      h('span', { class: 'chev-icon', 'aria-hidden': 'true' }, state === 'COMPLETED' ? '✓' : String(i + 1)),
      h('span', { class: 'chev-text' },
        h('span', { class: 'chev-name' }, s.stage.label),
        h('span', { class: 'chev-meta' }, metaText),
        h('span', { class: 'chev-state' }, stateWords)));
      list.append(h('li', { class: `chev is-${state.toLowerCase()}${s === shown ? ' is-shown' : ''}${stopped && isActive ? ' is-stopped' : ''}` }, button));
    });
    return list;
  };

  /** Arrow keys, Home and End move between chevrons (one tab stop for the whole bar). */
  const roam = (event, list) => {
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

  const flyout = () => {
    const s = shownStage();
    const inst = bar.instance;
    const live = inst.status === 'ACTIVE';
    const isActive = s.stage.name === inst.activeStage.name && live;
    const onRecord = isActive ? inst.activeRecord : null;
    const gate = new Set(isActive && flyoutError && flyoutError.missing ? flyoutError.missing : []);
    const spent = isActive ? secondsSince(inst.activeStageStartedOn) : timeInStage(s.stage.name);
    controls = [];

    const facts = [
      s.stage.category ? h('span', {}, h('span', { class: 'muted' }, 'Category '), categoryWords(s.stage.category)) : null,
      h('span', {}, h('span', { class: 'muted' }, 'On '), onRecord && onRecord.id !== inst.record.id
        ? h('a', { href: `/records/${encodeURIComponent(onRecord.id)}` }, `${entityLabel(s.stage.entity)} “${recordTitle(onRecord)}”`)
        : entityLabel(s.stage.entity)),
      spent !== null ? h('span', {}, h('span', { class: 'muted' }, isActive ? 'Time in stage ' : 'Time spent '),
        h('span', isActive ? { 'data-clock': '' } : {}, duration(spent))) : null,
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
          if (bs.step.kind === 'action') return actionStep(bs, true);
          const control = fieldControl(stepField(s.stage, bs), {
            value: bs.value, idPrefix: `step-${slug(s.stage.name)}`, required: bs.required, locked: bs.locked,
            recommendation: bs.recommendation, onCommit: queueSave,
          });
          if (bs.done) control.el.classList.add('is-done');
          if (gate.has(bs.step.name)) control.setError('Required to move to the next stage.');
          controls.push(control);
          return control.el;
        }));
    } else {
      body = h('dl', { class: 'steps steps-readonly' }, ...steps.map((bs) => (bs.step.kind === 'action'
        ? actionStep(bs, false)
        : fieldDisplay(stepField(s.stage, bs), bs.value,
          bs.done ? h('span', { class: 'done-mark' }, ' ✓', srOnly(' done')) : null))));
    }

    const stageIndex = bar.stages.indexOf(s);
    const isLast = stageIndex === bar.stages.length - 1;
    const firstTraversed = stageIndex === 0;
    const buttons = [];
    if (isActive) {
      buttons.push(h('button', { type: 'button', id: 'bar-previous', class: 'btn', disabled: firstTraversed,
        onclick: () => act('previous', {}, { after: (r) => `Moved back to ${r.activeStage.label}.` }) }, h('span', { 'aria-hidden': 'true' }, '‹ '), 'Previous Stage'));
      if (isLast) {
        buttons.push(h('button', { type: 'button', id: 'bar-finish', class: 'btn btn-primary',
          onclick: () => act('finish', {}, { after: () => `${inst.process.label} finished.` }) }, 'Finish'));
      } else {
        buttons.push(h('button', { type: 'button', id: 'bar-next', class: 'btn btn-primary',
          onclick: () => act('next', {}, { after: (r) => `Moved to ${r.activeStage.label}.` }) }, 'Next Stage', h('span', { 'aria-hidden': 'true' }, ' ›')));
      }
    } else if (s.state === 'COMPLETED' && live) {
      buttons.push(h('button', { type: 'button', id: 'bar-set-active', class: 'btn btn-primary',
        onclick: () => act('setActive', { stage: s.stage.name }, { after: (r) => `${r.activeStage.label} is the active stage again.` }) }, 'Set Active'));
    }
    const note = !isActive ? h('p', { class: 'flyout-note' }, s.state === 'UPCOMING'
      ? `Comes later, once ${inst.activeStage.label} is done. Shown read-only.`
      : live ? 'A completed stage, shown read-only. “Set Active” makes it the active stage again.' : 'Shown read-only.') : null;

    const error = h('div', { id: 'flyout-error', class: `inline-error${flyoutError && flyoutError.tone ? ` is-${flyoutError.tone}` : ''}`, role: 'alert' },
      flyoutError ? [h('p', {}, flyoutError.text), flyoutError.extra || null] : null);
    return h('div', { id: 'flyout', class: `flyout is-${s.state.toLowerCase()}`, role: 'region', 'aria-labelledby': 'flyout-title' },
      h('div', { class: 'flyout-head' },
        h('h3', { id: 'flyout-title', tabindex: '-1' }, s.stage.label,
          h('span', { class: `state-tag state-${s.state.toLowerCase()}` }, isActive ? 'Active stage' : s.state === 'COMPLETED' ? 'Completed' : 'Upcoming')),
        h('p', { class: 'flyout-facts' }, ...facts.filter(Boolean))),
      note, body,
      h('div', { class: 'flyout-foot' }, error,
        isActive ? h('span', { id: 'bar-saving', class: 'saving', role: 'status' }, saveNote) : null,
        buttons.length ? h('div', { class: 'flyout-actions' }, ...buttons) : null));
  };

  /** An action step: a button on the active stage, a line of a read-only list elsewhere. */
  const actionStep = (bs, runnable) => (runnable
    ? h('div', { class: `action-step${bs.done ? ' is-done' : ''}` },
      h('button', { type: 'button', class: 'btn btn-small', id: `action-${slug(bs.step.name)}`,
        onclick: () => act('action', { step: bs.step.name }, { after: () => `${bs.step.label}: done.` }) },
      h('span', { 'aria-hidden': 'true' }, '▶ '), bs.step.label),
      bs.done ? h('span', { class: 'done-mark' }, '✓ done') : null)
    : h('div', { class: 'readonly-field' }, h('dt', {}, bs.step.label),
      h('dd', {}, bs.done ? h('span', { class: 'done-mark' }, '✓ done') : h('span', { class: 'muted' }, 'Not run'))));

  const tools = () => {
    const inst = bar ? bar.instance : null;
    const entity = inst ? inst.process.entity : record.entity;
    const choices = meta.processesOf(entity);
    const buttons = [];
    if (choices.length) {
      buttons.push(h('button', { type: 'button', id: 'bar-switch', class: 'btn btn-quiet', 'aria-expanded': String(switchOpen),
        'aria-controls': 'switch-panel', onclick: () => { switchOpen = !switchOpen; draw(); if (switchOpen) el.querySelector('#switch-select')?.focus(); } }, 'Switch Process'));
    }
    if (inst && inst.status === 'ACTIVE') {
      buttons.push(h('button', { type: 'button', id: 'bar-abandon', class: 'btn btn-quiet btn-danger',
        onclick: () => act('abandon', {}, { where: 'tools', after: () => `${inst.process.label} abandoned.` }) }, 'Abandon'));
    } else if (inst) {
      buttons.push(h('button', { type: 'button', id: 'bar-reactivate', class: 'btn btn-primary',
        onclick: () => act('reactivate', {}, { where: 'tools', after: (r) => `${inst.process.label} is active again, on ${r.activeStage.label}.` }) }, 'Reactivate'));
    }
    let panel = null;
    if (switchOpen) {
      const instances = record.instances || [];
      const select = h('select', { id: 'switch-select' }, ...choices.map((p) => {
        const existing = instances.find((i) => i.process.name === p.name);
        const where = existing ? `${STATUS_WORDS[existing.status] || existing.status}, ${existing.activeStage.label}` : 'not started';
        return h('option', { value: p.name, selected: inst && p.name === inst.process.name }, `${p.label} (${where})`);
      }));
      panel = h('div', { id: 'switch-panel', class: 'switch-panel' },
        h('label', { for: 'switch-select' }, 'Process'), select,
        h('button', { type: 'button', class: 'btn btn-primary btn-small', onclick: () => {
          if (inst && select.value === inst.process.name) { switchOpen = false; draw(); return; }
          act('switch', { recordId: inst ? inst.record.id : record.id, process: select.value },
            { where: 'tools', after: () => `Switched to ${meta.process(select.value)?.label || select.value}.` });
        } }, 'Switch'),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => { switchOpen = false; draw(); el.querySelector('#bar-switch')?.focus(); } }, 'Cancel'),
        h('p', { class: 'hint' }, choices.length > 1
          ? 'The other processes keep their stage and history.'
          : `No other process of yours runs on ${entityLabel(entity)} records.`));
    }
    const error = h('div', { id: 'tools-error', class: 'inline-error', role: 'alert' },
      toolError ? [h('p', {}, toolError.text), toolError.extra || null] : null);
    return { buttons: h('div', { class: 'bar-tools' }, ...buttons), panel, error };
  };

  const draw = () => {
    keepFocus(el, () => {
      if (!bar) {
        const t = tools();
        mount(el, h('div', { class: 'bar-head' },
          h('div', {}, h('h2', { id: 'bar-title' }, 'No process'),
            h('p', { class: 'bar-sub' }, meta.processesOf(record.entity).length
              ? 'No process runs on this record. Use “Switch Process” to start one.'
              : `No process of yours runs on ${entityLabel(record.entity)} records.`)),
          t.buttons), t.panel, t.error);
        return;
      }
      const inst = bar.instance;
      const t = tools();
      const statusText = inst.status === 'ACTIVE'
        ? [h('span', { class: 'status status-active' }, 'Active'), ' · ', inst.activeStage.label, ' for ',
          h('span', { 'data-clock': '' }, duration(secondsSince(inst.activeStageStartedOn)))]
        : [h('span', { class: `status status-${inst.status.toLowerCase()}` }, STATUS_WORDS[inst.status]),
          inst.completedOn ? [' on ', timeEl(inst.completedOn)] : null, ` · stopped at ${inst.activeStage.label}`];
      mount(el,
        h('div', { class: 'bar-head' },
          h('div', { class: 'bar-heading' },
            h('h2', { id: 'bar-title' }, h('a', { href: `/processes/${encodeURIComponent(inst.process.name)}`, class: 'quiet-link' }, inst.process.label)),
            h('p', { class: 'bar-sub' }, ...statusText)),
          t.buttons),
        t.panel, t.error,
        h('div', { class: 'chevron-scroll' }, chevrons()),
        flyout());
      const shown = el.querySelector('.chev.is-shown');
      if (shown) {
        const scroller = el.querySelector('.chevron-scroll');
        scroller.scrollLeft = Math.max(0, shown.offsetLeft - scroller.clientWidth / 2 + shown.clientWidth / 2);
      }
    });
    if (document.activeElement === document.body && el.dataset.hadFocus === 'true') {
      el.querySelector('#flyout-title, #bar-title')?.focus();
    }
  };

  el.addEventListener('focusin', () => { el.dataset.hadFocus = 'true'; });
  el.addEventListener('focusout', (event) => { if (!el.contains(event.relatedTarget)) el.dataset.hadFocus = event.relatedTarget ? 'false' : 'true'; });

  return {
    el,
    /** Show a fresh ProcessBar (null: no process) of `pageRecord`. */
    render(nextBar, pageRecord) {
      if (bar && nextBar && bar.instance.id !== nextBar.instance.id) selected = null;
      bar = nextBar;
      record = pageRecord;
      if (bar && selected && !bar.stages.some((s) => s.stage.name === selected)) selected = null;
      draw();
    },
    get instance() { return bar ? bar.instance : null; },
    /** Errors from elsewhere that concern the bar (e.g. a refused refresh). */
    showError(text) { flyoutError = { text }; draw(); },
    destroy() { clearInterval(timer); },
  };
}
