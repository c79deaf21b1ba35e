// The page's entry point: signing in and out, the header (with the notifications bell), and a small
// router over `/`, `/records/{id}` and `/processes/{name}` (deep links work on reload).

import {
  AuthError, gql, loadMeta, meta, onAuthError, onMetaChanged, onReachable, recordTitle, restoreMeta, subscribe, token,
  UNREACHABLE,
} from './api.js';
import { renderProcess } from './process.js';
import { renderRecord } from './record.js';
import { renderRecords } from './records.js';
import { formatDateTime, h, mount } from './util.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const user = document.getElementById('user');
let cleanup = null;
let focusOnRender = false;
let reconnect = null; // the view's own way to read its data again when the server is back (see onReconnect)

/**
 * Go to a path inside the page without reloading it. `focus: false`: the view places the focus itself
 * (a move that opened another record keeps it on the bar's button).
 */
export function navigate(url, { replace = false, focus = true } = {}) {
  history[replace ? 'replaceState' : 'pushState'](null, '', url);
  focusOnRender = !replace && focus;
  route();
}

/**
 * Views call this once their first content is on screen: after a navigation, focus moves to
 * the view's heading so screen readers announce the new page, and the title follows it.
 */
function settle(title) {
  document.title = title ? `${title} · bpf` : 'bpf';
  // The view's first content is on screen: the tests count the requests between these two marks.
  performance.clearMarks('bpf:drawn');
  performance.mark('bpf:drawn');
  if (focusOnRender) {
    focusOnRender = false;
    const heading = main.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    } else {
      main.focus();
    }
  }
}

function route() {
  performance.clearMarks('bpf:route');
  performance.mark('bpf:route');
  if (cleanup) { cleanup(); cleanup = null; }
  reconnect = null;
  if (!token.get()) { renderSignIn(); return; }
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const ctx = { navigate, settle, onReconnect: (fn) => { reconnect = fn; } };
  let match;
  if (path === '/' || path === '/index.html') {
    cleanup = renderRecords(main, new URLSearchParams(location.search), ctx);
  } else if ((match = path.match(/^\/records\/([^/]+)$/))) {
    cleanup = renderRecord(main, decodeURIComponent(match[1]), ctx);
  } else if ((match = path.match(/^\/processes\/([^/]+)$/))) {
    cleanup = renderProcess(main, decodeURIComponent(match[1]), ctx);
  } else {
    mount(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/' }, 'Go to the records')));
    settle('Not found');
  }
  markCurrentNav();
}

function markCurrentNav() {
  for (const link of nav.querySelectorAll('a')) {
    const here = link.getAttribute('href') === location.pathname;
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------- the notifications bell

/** The bell as an inline SVG: an emoji needs a font with one, and a machine without shows an empty box. */
const bellIcon = () => h('svg:svg', { class: 'bell-icon', viewBox: '0 0 16 16', width: '16', height: '16', 'aria-hidden': 'true', focusable: 'false' },
  h('svg:path', { d: 'M8 1.5a1 1 0 0 1 1 1v.6a4.3 4.3 0 0 1 3.3 4.2v2.6l1.2 1.7H2.5l1.2-1.7V7.3A4.3 4.3 0 0 1 7 3.1v-.6a1 1 0 0 1 1-1z', fill: 'currentColor' }),
  h('svg:path', { d: 'M6.3 13h3.4a1.7 1.7 0 0 1-3.4 0z', fill: 'currentColor' }));

const NOTES_MAX = 20;
const NOTES = `query Notes { notifications(first: ${NOTES_MAX}) { id role message at
  instance { id process { label } record { id entity values } } } }`;
const NOTE_EVENTS = 'subscription Notes { processEvents { kind } }';

/**
 * The bell in the header: the caller's notifications (their roles', newest first), the count of those not seen
 * yet, a list on click with a link to each one's record. Read again when a `notification` or `overdue` event
 * arrives. What was seen is kept per user in this browser (the server keeps no read state).
 */
function createBell() {
  let notes = [];
  let stop = null;
  let loading = 0;
  const menu = h('details', { class: 'menu bell' });
  const seenKey = () => `bpf.notes.seen.${meta.me ? meta.me.user : ''}`;
  const seen = () => localStorage.getItem(seenKey()) || '';
  const fresh = () => notes.filter((n) => n.at > seen()).length;

  const item = (n) => {
    const record = n.instance.record;
    return h('li', {}, h('a', { href: `/records/${encodeURIComponent(record.id)}` },
      h('span', { class: 'note-message' }, n.message),
      h('span', { class: 'note-meta muted small' },
        `${n.instance.process.label} · ${meta.entity(record.entity)?.label || record.entity} “${recordTitle(record)}” · `,
        formatDateTime(n.at))));
  };

  // Drawn once; the count and the list change in place (the summary keeps the focus).
  const summary = h('summary', { id: 'bell' });
  const list = h('ul', { class: 'menu-list bell-list', 'aria-label': 'Notifications' });
  menu.append(summary, list);
  const draw = () => {
    const count = fresh();
    summary.setAttribute('aria-label', count ? `Notifications, ${count} new` : 'Notifications');
    mount(summary, bellIcon(),
      count ? h('span', { class: 'bell-count', 'aria-hidden': 'true' }, String(count)) : null);
    mount(list, ...(notes.length ? notes.map(item) : [h('li', { class: 'muted' }, 'No notifications')]));
  };

  menu.addEventListener('toggle', () => {
    if (!menu.open || !notes.length) return;
    try { localStorage.setItem(seenKey(), notes[0].at); } catch { /* storage off: counted again next time */ }
    draw();
  });
  menu.addEventListener('click', (event) => { if (event.target.closest('a')) menu.open = false; });
  menu.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && menu.open) { menu.open = false; menu.querySelector('summary').focus(); }
  });
  document.addEventListener('click', (event) => { if (menu.open && !menu.contains(event.target)) menu.open = false; });

  const load = async () => {
    if (!token.get() || !meta.has('notifications')) return;
    const mine = ++loading;
    try {
      const data = await gql(NOTES);
      if (mine !== loading) return;
      notes = data.notifications || [];
      draw();
    } catch { /* the bell keeps what it showed; the next event or reconnection reads again */ }
  };

  draw();
  return {
    el: menu,
    load,
    start() {
      if (stop || !meta.has('notifications')) { load(); return; }
      stop = subscribe(NOTE_EVENTS, {}, (data) => {
        const kind = data.processEvents && data.processEvents.kind;
        if (kind === 'notification' || kind === 'overdue') load();
      }, (status) => { if (status === 'live') load(); });
    },
    stop() {
      if (stop) { stop(); stop = null; }
      notes = [];
      draw();
    },
  };
}

const bell = createBell();

function renderHeader() {
  if (!token.get()) {
    nav.replaceChildren();
    user.replaceChildren();
    bell.stop();
    return;
  }
  const processLinks = meta.processes.map((p) => h('li', {}, h('a', { href: `/processes/${encodeURIComponent(p.name)}` }, p.label)));
  const menu = h('details', { class: 'menu' },
    h('summary', {}, 'Processes'),
    h('ul', { class: 'menu-list' }, processLinks.length ? processLinks : h('li', { class: 'muted' }, 'No processes for your roles')));
  // Close the menu after following one of its links, and with Escape.
  menu.addEventListener('click', (event) => { if (event.target.closest('a')) menu.open = false; });
  menu.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && menu.open) { menu.open = false; menu.querySelector('summary').focus(); }
  });
  mount(nav, h('ul', { class: 'nav-list' }, h('li', {}, h('a', { href: '/' }, 'Records')), h('li', {}, menu)));
  const who = meta.me ? meta.me.user : 'Signed in';
  const roles = meta.me && meta.me.roles.length ? meta.me.roles.join(', ') : '';
  mount(user, meta.has('notifications') ? bell.el : null,
    h('span', { class: 'who' }, h('span', { class: 'avatar', 'aria-hidden': 'true' }, who.slice(0, 1).toUpperCase()),
      h('span', {}, h('span', { class: 'who-name' }, who), roles ? h('span', { class: 'who-roles' }, roles) : null)),
    h('button', { type: 'button', class: 'btn btn-quiet', onclick: signOut }, 'Sign out'));
}

function signOut() {
  if (cleanup) { cleanup(); cleanup = null; }
  token.clear();
  // Who was signed in goes with the token: the next sign-in's header shows only its own user and roles.
  meta.me = null;
  renderHeader();
  renderSignIn('You are signed out.');
}

function renderSignIn(notice = null) {
  renderHeader();
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'token-error token-hint' });
  const error = h('p', { id: 'token-error', class: 'field-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true },
    h('h1', {}, 'Sign in'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    h('div', { class: 'field' },
      h('label', { for: 'token' }, 'Token'),
      input,
      h('p', { id: 'token-hint', class: 'hint' }, 'An API token from your administrator (bpf token create). It is kept for this tab only.'),
      error),
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) {
      error.textContent = 'Enter your token.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    button.disabled = true;
    error.textContent = '';
    try {
      await loadMeta(value);
      token.set(value);
      input.removeAttribute('aria-invalid');
      bell.start();
      renderHeader();
      focusOnRender = true;
      route();
    } catch (e) {
      error.textContent = e instanceof AuthError ? 'That token was not accepted. Check it and try again.' : e.message;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  mount(main, h('div', { class: 'signin-wrap' }, form));
  document.title = 'Sign in · bpf';
  input.focus();
}

// Links inside the page navigate without reloading (modifier clicks open tabs as usual).
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/static/') || url.pathname.startsWith('/graphql')) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});

// The header's Processes menu closes when the click or the focus goes elsewhere.
document.addEventListener('click', (event) => {
  const menu = nav.querySelector('details.menu[open]');
  if (menu && !menu.contains(event.target)) menu.open = false;
});
document.addEventListener('focusin', (event) => {
  const menu = nav.querySelector('details.menu[open]');
  if (menu && !menu.contains(event.target)) menu.open = false;
});

window.addEventListener('popstate', () => { focusOnRender = true; route(); });

// An answer showed the kept metadata stale (another program, other roles) and it was read again: the header
// shows the new one at once, the view on its next draw.
onMetaChanged(() => renderHeader());

onAuthError(() => {
  if (cleanup) { cleanup(); cleanup = null; }
  token.clear();
  meta.me = null;
  renderSignIn('Your token is no longer accepted. Sign in again.');
});

// The server answers again after a request found it unreachable: the view reads its data again by itself
// (its own way, keeping what is typed), or, when it shows that error, is drawn again; an open dialog is left
// alone (what is typed in it stays).
onReachable(() => {
  if (!token.get()) return;
  bell.load();
  if (reconnect) { reconnect(); return; }
  if (main.querySelector('dialog[open]')) return;
  if (main.textContent.includes(UNREACHABLE)) route();
});

async function boot() {
  if (!token.get()) { renderSignIn(); return; }
  try {
    // Read once per tab: kept across reloads while the token and the server's program stay the same.
    if (!restoreMeta()) await loadMeta();
  } catch (e) {
    if (e instanceof AuthError) return; // onAuthError shows the sign-in
    mount(main, h('div', { class: 'card' }, h('h1', {}, 'The server did not answer'), h('p', { role: 'alert' }, e.message),
      h('button', { type: 'button', class: 'btn', onclick: boot }, 'Try again')));
    reconnect = boot; // and by itself once the server answers again
    return;
  }
  bell.start();
  renderHeader();
  // A reload or a deep link is a navigation too: focus goes to the page's heading.
  focusOnRender = true;
  route();
}

boot();
