// The page's entry point: signing in and out, the header, and a small router over
// `/`, `/records/{id}` and `/processes/{name}` (deep links work on reload).

import { AuthError, loadMeta, meta, onAuthError, onMetaChanged, restoreMeta, token } from './api.js';
import { renderProcess } from './process.js';
import { renderRecord } from './record.js';
import { renderRecords } from './records.js';
import { h, mount } from './util.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const user = document.getElementById('user');
let cleanup = null;
let focusOnRender = false;

/** Go to a path inside the page without reloading it. */
export function navigate(url, { replace = false } = {}) {
  history[replace ? 'replaceState' : 'pushState'](null, '', url);
  focusOnRender = !replace;
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
  if (!token.get()) { renderSignIn(); return; }
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const ctx = { navigate, settle };
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

function renderHeader() {
  if (!token.get()) {
    nav.replaceChildren();
    user.replaceChildren();
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
  mount(user,
    h('span', { class: 'who' }, h('span', { class: 'avatar', 'aria-hidden': 'true' }, who.slice(0, 1).toUpperCase()),
      h('span', {}, h('span', { class: 'who-name' }, who), roles ? h('span', { class: 'who-roles' }, roles) : null)),
    h('button', { type: 'button', class: 'btn btn-quiet', onclick: signOut }, 'Sign out'));
}

function signOut() {
  if (cleanup) { cleanup(); cleanup = null; }
  token.clear();
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
  renderSignIn('Your token is no longer accepted. Sign in again.');
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
    return;
  }
  renderHeader();
  // A reload or a deep link is a navigation too: focus goes to the page's heading.
  focusOnRender = true;
  route();
}

boot();
