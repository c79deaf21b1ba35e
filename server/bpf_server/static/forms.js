// Inputs generated from field types, their values in API.md's JSON shapes, and inline errors.

import { gql } from './api.js';
import { lookupPicker, titleOf } from './lookup.js';
import { h, formatDate, formatDateTime, formatNumber, slug, srOnly } from './util.js';

const NUMBER_TYPES = new Set(['integer', 'decimal', 'money']);
const INPUT_TYPES = { text: 'text', email: 'email', url: 'url', phone: 'tel', date: 'date' };

const pad = (n) => String(n).padStart(2, '0');

/** An ISO date-time with a zone → the reader's local "YYYY-MM-DDTHH:MM" for datetime-local. */
export function isoToLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The reader's local "YYYY-MM-DDTHH:MM" → ISO 8601 with the reader's offset at that moment. */
export function localInputToIso(local) {
  if (!local) return null;
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) return undefined;
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function zoneHint() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
  const offset = -new Date().getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '−';
  const abs = Math.abs(offset);
  return `In your time zone, ${zone} (UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}).`;
}

/** A light bulb (D365 marks recommendations with one), drawn so no emoji font is needed. */
function bulb() {
  return h('svg:svg', { class: 'bulb', viewBox: '0 0 16 16', width: '16', height: '16', 'aria-hidden': 'true', focusable: 'false' },
    h('svg:path', { d: 'M8 1.5a4.5 4.5 0 0 0-2.6 8.2c.4.3.6.7.6 1.1V12h4v-1.2c0-.4.2-.8.6-1.1A4.5 4.5 0 0 0 8 1.5z', fill: '#f2b400', stroke: '#8a6400', 'stroke-width': '1' }),
    h('svg:rect', { x: '6', y: '13', width: '4', height: '1.6', rx: '.6', fill: '#8a6400' }));
}

/** Two values in API.md's JSON shapes are the same (null and undefined alike). */
export const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * One field as a labelled control. `field`: {name, label, type, options, lookupEntity}.
 * Options: value, idPrefix, required, locked, recommendation, done (a ✓ after the label, "Done" for
 * screen readers in the description), onCommit(control) — called when the user commits a change
 * (change event, a pick, a toggle).
 * Returns a control: {el, name, field, read() -> {value, problem}, dirty(), base(), draft(v), accept(),
 * set(v), setError(msg), error(), focus()}.
 */
export function fieldControl(field, opts = {}) {
  const { value = null, idPrefix = 'f', required = false, locked = false, recommendation = null, done = false,
    onCommit = () => {} } = opts;
  // Field ids live under "field-", where no id of the page's own chrome does: a field named
  // "title" or "process" can't take the id of a heading or a select the page labels by.
  const id = `field-${idPrefix}-${slug(field.name)}`;
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const doneId = `${id}-done`;
  const describedBy = [errorId, hintId, done ? doneId : null].filter(Boolean).join(' ');
  const type = field.type;
  let initial = value ?? null;
  let input;        // the element that carries aria-invalid
  let read;         // () => {value, problem}
  let setValue;     // (v) => void
  const hints = [];
  // The user's edit: an input (or a pick, a toggle) since the control was drawn, saved or reset.
  // Only a touched control is dirty: what the screen shows is never compared with fresh data.
  let touched = false;
  let el = null;
  const touch = (yes) => {
    touched = yes;
    if (el) { if (yes) el.dataset.touched = 'true'; else delete el.dataset.touched; }
  };
  const commit = () => { touch(true); onCommit(control); };

  // The marks after the label are for the eye; screen readers get aria-required and the description.
  const labelText = [field.label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null,
    done ? h('span', { class: 'done-mark', 'aria-hidden': 'true' }, ' ✓') : null,
    locked ? h('span', { class: 'lock' }, ' (locked)') : null];
  const requiredAttrs = required ? { 'aria-required': 'true' } : {};

  let body;
  if (type === 'bool') {
    input = h('input', { id, type: 'checkbox', role: 'switch', class: 'switch', checked: value === true,
      disabled: locked, 'aria-describedby': describedBy, ...requiredAttrs, onchange: commit });
    // An untouched empty yes/no stays empty (null) rather than becoming an explicit "no".
    read = () => ({ value: input.checked ? true : (initial === null ? null : false) });
    setValue = (v) => { input.checked = v === true; };
    body = h('div', { class: 'field-inline' }, input, h('label', { for: id }, ...labelText));
  } else if (type === 'choices') {
    const boxes = (field.options || []).map((o) => h('input', {
      type: 'checkbox', id: `${id}-${slug(o.name)}`, value: o.name,
      checked: Array.isArray(value) && value.includes(o.name), disabled: locked, onchange: commit,
    }));
    // A group has no aria-required (ARIA gives it none to a fieldset): its legend says "required" in words.
    input = h('fieldset', { id, class: 'choices', 'aria-describedby': describedBy },
      h('legend', {}, ...labelText, required ? srOnly(' (required)') : null),
      ...boxes.map((box, i) => h('label', { class: 'choice', for: box.id }, box, ` ${field.options[i].label}`)));
    read = () => {
      const picked = boxes.filter((b) => b.checked).map((b) => b.value);
      return { value: picked.length ? picked : null };
    };
    setValue = (v) => boxes.forEach((b) => { b.checked = Array.isArray(v) && v.includes(b.value); });
    body = input;
  } else if (type === 'lookup') {
    const picker = lookupPicker({ id, entity: field.lookupEntity, value, disabled: locked,
      describedBy, onPick: commit });
    input = picker.input;
    if (required) input.setAttribute('aria-required', 'true');
    read = () => ({ value: picker.value });
    setValue = (v) => { picker.value = v; };
    body = [h('label', { for: id }, ...labelText), picker.el];
  } else if (type === 'choice') {
    input = h('select', { id, disabled: locked, 'aria-describedby': describedBy, ...requiredAttrs,
      onchange: commit },
    h('option', { value: '' }, '—'),
    ...(field.options || []).map((o) => h('option', { value: o.name, selected: o.name === value }, o.label)));
    read = () => ({ value: input.value || null });
    setValue = (v) => { input.value = v ?? ''; };
    body = [h('label', { for: id }, ...labelText), input];
  } else {
    const attrs = { id, readonly: locked, 'aria-describedby': describedBy, ...requiredAttrs, onchange: commit };
    if (NUMBER_TYPES.has(type)) {
      Object.assign(attrs, { type: 'number', step: type === 'integer' ? '1' : 'any',
        inputmode: type === 'integer' ? 'numeric' : 'decimal' });
    } else if (type === 'datetime') {
      attrs.type = 'datetime-local';
      hints.push(zoneHint());
    } else {
      attrs.type = INPUT_TYPES[type] || 'text';
      if (type === 'email') attrs.autocomplete = 'email';
      if (type === 'phone') attrs.autocomplete = 'tel';
    }
    if (type === 'date' || type === 'datetime') {
      // Typing a year fires change at every digit (0002, 0020, 0203, 2030): commit once the year
      // has four digits, or when the field is left.
      attrs.onchange = () => { if (/^\d{4}-/.test(input.value) && !input.value.startsWith('0')) commit(); };
      attrs.onblur = () => { if (control.dirty()) commit(); };
    }
    input = h('input', attrs);
    setValue = (v) => {
      if (type === 'datetime') input.value = isoToLocalInput(v);
      else input.value = v === null || v === undefined ? '' : String(v);
    };
    setValue(value);
    read = () => {
      const raw = input.value;
      if (NUMBER_TYPES.has(type)) {
        if (input.validity && input.validity.badInput) return { value: null, problem: `${field.label} must be a number` };
        if (raw.trim() === '') return { value: null };
        const n = Number(raw);
        if (!Number.isFinite(n)) return { value: null, problem: `${field.label} must be a number` };
        if (type === 'integer' && !Number.isInteger(n)) return { value: null, problem: `${field.label} must be a whole number` };
        return { value: n };
      }
      if (type === 'datetime') {
        const iso = localInputToIso(raw);
        if (iso === undefined) return { value: null, problem: `${field.label} must be a date and time` };
        return { value: iso };
      }
      return { value: raw === '' ? null : raw };
    };
    body = [h('label', { for: id }, ...labelText), input];
  }

  const error = h('p', { id: errorId, class: 'field-error' });
  const hint = h('p', { id: hintId, class: 'hint' }, hints.join(' '));
  const doneNote = done ? h('span', { id: doneId, class: 'sr-only' }, 'Done.') : null;
  const recommend = recommendation
    ? h('p', { class: 'recommendation' }, bulb(),
      h('span', {}, h('strong', {}, 'Recommendation: '), recommendation))
    : null;
  el = h('div', { class: `field field-${type}${locked ? ' is-locked' : ''}`, dataset: { field: field.name } },
    body, hint, recommend, error, doneNote);
  el.addEventListener('input', () => touch(true));
  el.addEventListener('change', () => touch(true));

  const control = {
    el, name: field.name, field, id,
    read: () => read(),
    /** The user edited it (an input since it was drawn, saved or reset) to something the server doesn't have. */
    dirty: () => { if (!touched) return false; const r = read(); return !r.problem && !same(r.value, initial); },
    /** There was an input in it since it was drawn, saved or reset. */
    touched: () => touched,
    /** The value the control was drawn with (what the server had). */
    base: () => initial,
    /** Show `v` without taking it as the base: the user's edit not yet saved, laid over fresh data. */
    draft: (v) => { setValue(v); touch(true); },
    /** Saved: what it shows is now the server's. */
    accept: () => { initial = read().value; touch(false); },
    /** Show the server's `v`, forgetting any edit. */
    set: (v) => { initial = v ?? null; setValue(v); touch(false); },
    error: () => error.textContent,
    setError(message) {
      error.textContent = message || '';
      el.classList.toggle('has-error', Boolean(message));
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    },
    focus: () => (type === 'choices' ? input.querySelector('input') : input)?.focus(),
  };
  return control;
}

/** A field's value as words (read-only views: completed stages, lists). */
export function displayValue(field, value) {
  if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return '—';
  const label = (name) => (field.options || []).find((o) => o.name === name)?.label || name;
  switch (field.type) {
    case 'bool': return value ? 'Yes' : 'No';
    case 'choice': return label(value);
    case 'choices': return value.map(label).join(', ');
    case 'date': return formatDate(value);
    case 'datetime': return formatDateTime(value);
    case 'integer': case 'decimal': case 'money': return formatNumber(value);
    default: return String(value);
  }
}

/** A read-only field: label and value as text; a lookup links to its record. */
export function fieldDisplay(field, value, extra = null) {
  let shown;
  if (field.type === 'lookup' && value) {
    const link = h('a', { href: `/records/${encodeURIComponent(value)}` }, '…');
    titleOf(value).then((title) => { link.textContent = title; });
    shown = link;
  } else {
    shown = displayValue(field, value);
  }
  return h('div', { class: 'readonly-field' }, h('dt', {}, field.label), h('dd', {}, shown, extra));
}

/** Read every control: {values, problems}; only changed ones when `changedOnly`. */
export function collect(controls, { changedOnly = false } = {}) {
  const values = {};
  const problems = [];
  for (const control of controls) {
    const { value, problem } = control.read();
    if (problem) problems.push({ field: control.name, message: problem });
    else if (!changedOnly || control.dirty()) values[control.name] = value;
  }
  return { values, problems };
}

/**
 * Show errors inline: each FieldError next to its field; ones without a field (or for a field
 * not on screen) go to `summary`. Focus moves to the first field in error. Returns the count.
 */
export function showErrors(controls, fieldErrors, summary, message = null) {
  const byName = new Map(controls.map((c) => [c.name, c]));
  controls.forEach((c) => c.setError(null));
  const loose = [];
  let first = null;
  for (const fe of fieldErrors || []) {
    const control = fe.field ? byName.get(fe.field) : null;
    if (control) {
      control.setError(fe.message);
      first = first || control;
    } else {
      loose.push(fe.message);
    }
  }
  if (summary) {
    const lines = [];
    if (message) lines.push(message);
    lines.push(...loose);
    summary.replaceChildren(...lines.map((line) => h('p', {}, line)));
    summary.hidden = !lines.length;
  }
  if (first) first.focus();
  return (fieldErrors || []).length;
}

const UPDATE = `mutation Save($id: ID!, $values: JSON!, $expectedVersion: Int) {
  updateRecord(id: $id, values: $values, expectedVersion: $expectedVersion) {
    __typename
    ... on Record { id entity version values }
    ... on ValidationError { message currentVersion fieldErrors { field message } } } }`;

/** An updateRecord refusal that is a version conflict (a stale expectedVersion), not a rule's error. */
export const isConflict = (result) => result.__typename === 'ValidationError'
  && result.currentVersion !== null && result.currentVersion !== undefined && !result.fieldErrors.length;

/** The note on a field someone else changed while it was being edited here. */
export function clashText(field, theirs) {
  return `Someone else changed this to “${displayValue(field, theirs)}” while you were editing. Yours is kept here, not saved yet.`;
}

/**
 * Edits not yet saved, by record and field. They outlive a redraw (fresh data, someone else's change,
 * a version conflict): captured from the controls before, laid over the fresh values after. A field
 * that someone else changed meanwhile is a clash: the edit stays, marked, until the user keeps it or
 * takes theirs. Each draft: {recordId, field, value, base (what the edit started from), theirs, error}.
 */
export function createDrafts() {
  const map = new Map();
  const key = (recordId, field) => `${recordId}\n${field}`;
  const drafts = {
    /** Remember the unsaved edits of `controls` (drawn for `recordId`); forget the ones now saved. */
    capture(recordId, controls) {
      for (const c of controls) {
        const k = key(recordId, c.name);
        const prev = map.get(k);
        if (c.dirty()) { // touched by the user since the last save or refresh
          map.set(k, { recordId, field: c.name, fieldDef: c.field, value: c.read().value, base: c.base(),
            theirs: prev ? prev.theirs : undefined, error: c.error() });
        } else if (!c.read().problem) {
          map.delete(k);
        }
      }
    },
    /** Lay the drafts of `recordId` over freshly drawn controls. */
    overlay(recordId, controls) {
      for (const c of controls) {
        const k = key(recordId, c.name);
        const d = map.get(k);
        if (!d) continue;
        const fresh = c.base();
        if (same(fresh, d.value)) { map.delete(k); continue; }
        if (!same(fresh, d.base)) { d.theirs = fresh; d.base = fresh; }
        c.draft(d.value);
        if (d.theirs !== undefined) c.setError(clashText(c.field, d.theirs));
        else if (d.error) c.setError(d.error);
      }
    },
    of: (recordId) => [...map.values()].filter((d) => d.recordId === recordId),
    all: () => [...map.values()],
    has: (recordId, field) => map.has(key(recordId, field)),
    drop(recordId, field = null) {
      for (const d of drafts.of(recordId)) if (field === null || d.field === field) map.delete(key(recordId, d.field));
    },
    clashes: (recordId) => drafts.of(recordId).filter((d) => d.theirs !== undefined),
    /** The user has seen their value and keeps theirs: sending now replaces it. */
    keepMine(recordId) { for (const d of drafts.of(recordId)) d.theirs = undefined; },
    /**
     * After a version conflict: read the record again and send the drafts (of `only` fields, if given)
     * whose fields nobody else changed meanwhile, with the fresh version. Fields changed elsewhere are
     * clashes and stay drafts. Returns {saved: [field], clashes: [draft], record, message, fieldErrors}.
     */
    async resend(recordId, { only = null, tries = 3 } = {}) {
      const outcome = { saved: [], clashes: [], record: null, message: null, fieldErrors: [] };
      for (let attempt = 0; attempt < tries; attempt += 1) {
        const fresh = (await gql(`query Fresh($id: ID!) { record(id: $id) { id entity version values } }`, { id: recordId })).record;
        if (!fresh) { outcome.message = 'This record was deleted meanwhile.'; return outcome; }
        outcome.record = fresh;
        const send = {};
        for (const d of drafts.of(recordId)) {
          const now = fresh.values[d.field] ?? null;
          if (same(now, d.value)) { map.delete(key(recordId, d.field)); continue; }
          if (!same(now, d.base)) { d.theirs = now; d.base = now; }
          if (d.theirs === undefined && (!only || only.includes(d.field))) send[d.field] = d.value;
        }
        outcome.clashes = drafts.clashes(recordId).filter((d) => !only || only.includes(d.field));
        if (!Object.keys(send).length) return outcome;
        const result = (await gql(UPDATE, { id: recordId, values: send, expectedVersion: fresh.version })).updateRecord;
        if (result.__typename === 'Record') {
          for (const field of Object.keys(send)) map.delete(key(recordId, field));
          outcome.saved = Object.keys(send);
          outcome.record = result;
          return outcome;
        }
        if (isConflict(result)) continue; // changed again meanwhile: read again
        outcome.message = result.message;
        outcome.fieldErrors = result.fieldErrors;
        for (const fe of result.fieldErrors) {
          const d = fe.field ? map.get(key(recordId, fe.field)) : null;
          if (d) d.error = fe.message;
        }
        return outcome;
      }
      outcome.message = 'This record keeps changing under you; try again in a moment.';
      return outcome;
    },
  };
  return drafts;
}
