// Inputs generated from field types, their values in API.md's JSON shapes, and inline errors.

import { lookupPicker, titleOf } from './lookup.js';
import { h, formatDate, formatDateTime, formatNumber, slug } from './util.js';

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

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * One field as a labelled control. `field`: {name, label, type, options, lookupEntity}.
 * Options: value, idPrefix, required, locked, recommendation, onCommit(control) — called when
 * the user commits a change (change event, a pick, a toggle).
 * Returns a control: {el, name, field, read() -> {value, problem}, dirty(), setError(msg), focus()}.
 */
export function fieldControl(field, opts = {}) {
  const { value = null, idPrefix = 'f', required = false, locked = false, recommendation = null,
    onCommit = () => {} } = opts;
  const id = `${idPrefix}-${slug(field.name)}`;
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const type = field.type;
  let initial = value ?? null;
  let input;        // the element that carries aria-invalid
  let read;         // () => {value, problem}
  let setValue;     // (v) => void
  const hints = [];
  const commit = () => onCommit(control);

  const labelText = [field.label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null,
    locked ? h('span', { class: 'lock' }, ' (locked)') : null];
  const requiredAttrs = required ? { 'aria-required': 'true' } : {};

  let body;
  if (type === 'bool') {
    input = h('input', { id, type: 'checkbox', role: 'switch', class: 'switch', checked: value === true,
      disabled: locked, 'aria-describedby': `${errorId} ${hintId}`, ...requiredAttrs, onchange: commit });
    // An untouched empty yes/no stays empty (null) rather than becoming an explicit "no".
    read = () => ({ value: input.checked ? true : (initial === null ? null : false) });
    setValue = (v) => { input.checked = v === true; };
    body = h('div', { class: 'field-inline' }, input, h('label', { for: id }, ...labelText));
  } else if (type === 'choices') {
    const boxes = (field.options || []).map((o) => h('input', {
      type: 'checkbox', id: `${id}-${slug(o.name)}`, value: o.name,
      checked: Array.isArray(value) && value.includes(o.name), disabled: locked, onchange: commit,
    }));
    input = h('fieldset', { id, class: 'choices', 'aria-describedby': `${errorId} ${hintId}`, ...requiredAttrs },
      h('legend', {}, ...labelText),
      ...boxes.map((box, i) => h('label', { class: 'choice', for: box.id }, box, ` ${field.options[i].label}`)));
    read = () => {
      const picked = boxes.filter((b) => b.checked).map((b) => b.value);
      return { value: picked.length ? picked : null };
    };
    setValue = (v) => boxes.forEach((b) => { b.checked = Array.isArray(v) && v.includes(b.value); });
    body = input;
  } else if (type === 'lookup') {
    const picker = lookupPicker({ id, entity: field.lookupEntity, value, disabled: locked,
      describedBy: `${errorId} ${hintId}`, onPick: commit });
    input = picker.input;
    if (required) input.setAttribute('aria-required', 'true');
    read = () => ({ value: picker.value });
    setValue = (v) => { picker.value = v; };
    body = [h('label', { for: id }, ...labelText), picker.el];
  } else if (type === 'choice') {
    input = h('select', { id, disabled: locked, 'aria-describedby': `${errorId} ${hintId}`, ...requiredAttrs,
      onchange: commit },
    h('option', { value: '' }, '—'),
    ...(field.options || []).map((o) => h('option', { value: o.name, selected: o.name === value }, o.label)));
    read = () => ({ value: input.value || null });
    setValue = (v) => { input.value = v ?? ''; };
    body = [h('label', { for: id }, ...labelText), input];
  } else {
    const attrs = { id, readonly: locked, 'aria-describedby': `${errorId} ${hintId}`, ...requiredAttrs, onchange: commit };
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
  const recommend = recommendation
    ? h('p', { class: 'recommendation' }, bulb(),
      h('span', {}, h('strong', {}, 'Recommendation: '), recommendation))
    : null;
  const el = h('div', { class: `field field-${type}${locked ? ' is-locked' : ''}`, dataset: { field: field.name } },
    body, hint, recommend, error);

  const control = {
    el, name: field.name, field, id,
    read: () => read(),
    dirty: () => { const r = read(); return !r.problem && !same(r.value, initial); },
    accept: () => { initial = read().value; },
    set: (v) => { initial = v ?? null; setValue(v); },
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
