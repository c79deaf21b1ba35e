// Small DOM and formatting helpers shared by every view.

/**
 * Build an element: h('button', {class: 'x', onclick: fn}, 'text', child...).
 * Attributes: `class`, `text`, `html` is deliberately absent (no innerHTML anywhere),
 * functions on `on*` become listeners, booleans toggle the attribute, null/undefined skip,
 * `style` is set through the CSSOM (which the page's Content-Security-Policy allows).
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag.includes(':')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.split(':')[1])
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' && 'value' in el && !(el instanceof SVGElement)) {
      el.value = value;
    } else if (key === 'checked' || key === 'selected') {
      el[key] = Boolean(value);
    } else if (key === 'style') {
      // Through the CSSOM: the Content-Security-Policy refuses style attributes (no 'unsafe-inline').
      el.style.cssText = String(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Text only screen readers hear. */
export const srOnly = (text) => h('span', { class: 'sr-only' }, text);

let uid = 0;
/** A document-unique id with a readable prefix. */
export const uniqueId = (prefix) => `${prefix}-${++uid}`;

/** A safe id fragment from any name. */
export const slug = (s) => String(s).replace(/[^A-Za-z0-9_-]/g, '_');

// The units of `duration`, largest first: [seconds in one, symbol].
const DURATION_UNITS = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];

/**
 * The page's one way of writing a length of time: its largest unit and the next one down, rounded
 * down ("45 s", "12 min", "3 h 5 min", "1 d 13 h", "2 d"), so two durations side by side always
 * read alike (never "37 h 30 min" beside "2 d 5 h"). A zero second unit is left out ("3 h", not
 * "3 h 0 min"); null or not a number gives "—". Every view writes durations through this.
 */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  let left = Math.max(0, Math.round(Number(seconds)));
  const top = DURATION_UNITS.findIndex(([size]) => left >= size);
  if (top === -1) return '0 s';
  const parts = [];
  for (const [size, symbol] of DURATION_UNITS.slice(top, top + 2)) {
    const count = Math.floor(left / size);
    left -= count * size;
    if (count || !parts.length) parts.push(`${count} ${symbol}`);
  }
  return parts.join(' ');
}

/** Seconds from an ISO date-time until now (or until `end`). */
export function secondsSince(iso, end = null) {
  const from = Date.parse(iso);
  const to = end ? Date.parse(end) : Date.now();
  return Number.isNaN(from) ? null : (to - from) / 1000;
}

/**
 * A duration that counts on: `baseSeconds` plus the time since `sinceIso`, redrawn every second
 * by one shared timer, so every clock on the page started from the same time shows the same.
 */
export function clock(sinceIso, baseSeconds = 0) {
  const el = h('span', { class: 'clock', 'data-since': sinceIso, 'data-base': String(baseSeconds) },
    duration(baseSeconds + (secondsSince(sinceIso) ?? 0)));
  startTicking();
  return el;
}

let ticking = null;
function startTicking() {
  if (ticking) return;
  ticking = setInterval(() => {
    for (const el of document.querySelectorAll('[data-since]')) {
      const text = duration(Number(el.dataset.base || 0) + (secondsSince(el.dataset.since) ?? 0));
      if (el.textContent !== text) el.textContent = text;
    }
  }, 1000);
}

const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

/** A date-time in the reader's zone; a <time> element keeps the machine value. */
export function timeEl(iso) {
  if (!iso) return h('span', {}, '—');
  const d = new Date(iso);
  return h('time', { datetime: iso, title: d.toISOString() }, dateTimeFmt.format(d));
}

export const formatDateTime = (iso) => (iso ? dateTimeFmt.format(new Date(iso)) : '');
export const formatDate = (ymd) => (ymd ? dateFmt.format(new Date(`${ymd}T00:00:00Z`)) : '');

const numberFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
export const formatNumber = (n) => (n === null || n === undefined ? '' : numberFmt.format(n));
export const percent = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 100)}%`);

/** Wait `ms` after the last call before running `fn`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** The polite live region (status messages, live updates). */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick makes screen readers speak a repeated message again.
  setTimeout(() => { region.textContent = message; }, 30);
}

/**
 * Re-render `container` with `render()` while keeping keyboard focus: the element that had
 * focus (found again by id) gets it back, with what was typed in it and the caret, so a
 * refresh under a typing user doesn't throw them out.
 */
export function keepFocus(container, render) {
  const active = document.activeElement;
  const inside = active && active !== container && container.contains(active) && active.id;
  // A field control's value is kept only when the user typed in it (data-touched): an untouched
  // field shows the fresh value even with the focus in it.
  const field = inside ? active.closest('[data-field]') : null;
  const typed = inside && 'value' in active && !['checkbox', 'radio', 'button', 'submit'].includes(active.type)
    && (!field || field.dataset.touched === 'true');
  const state = inside ? {
    id: active.id,
    value: typed ? active.value : null,
    start: typed ? active.selectionStart ?? null : null,
  } : null;
  render();
  if (!state) return;
  const again = document.getElementById(state.id);
  if (!again) return;
  again.focus({ preventScroll: true });
  // What the user was typing survives the refresh (it is saved when they leave the field).
  if (state.value !== null && 'value' in again && again.value !== state.value) {
    again.value = state.value;
    // Still the user's edit in the new control.
    if (again.closest('[data-field]')) again.dispatchEvent(new Event('input', { bubbles: true }));
  }
  if (state.start !== null && typeof again.setSelectionRange === 'function') {
    try { again.setSelectionRange(state.start, state.start); } catch { /* not a text input */ }
  }
}
