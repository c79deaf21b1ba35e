// Talking to the server: the token, GraphQL over HTTP, subscriptions over graphql-transport-ws,
// and the metadata every view reads (entities, processes, who I am), read once per session.

const TOKEN_KEY = 'bpf.token';

/** The token lives in sessionStorage: it stays for this tab and goes when the tab closes. */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => { sessionStorage.removeItem(TOKEN_KEY); forgetMeta(); },
};

/** The server refused the token (401): the app signs out and asks for it again. */
export class AuthError extends Error {}
/** A GraphQL or network error that isn't one of the schema's expected results. */
export class ApiError extends Error {}
/** The server did not answer at all (stopped, restarting, the network down): the request changed nothing. */
export class NetworkError extends ApiError {}

/** What the page says when a request never reached the server. */
export const UNREACHABLE = 'The server could not be reached; nothing changed. Check your connection and try again.';

// ---------------------------------------------------------------- reachability
// A request that finds no server starts a quiet watch on /healthz; when the server answers again, the
// listeners are told (the view reads its data again by itself: no manual reload).

const reachListeners = new Set();
let watching = null;
/** Whether the latest request found no server (and the watch has not seen it back yet). */
export const reach = { lost: false };
/** Called once each time the server answers again after a request found it unreachable. */
export function onReachable(fn) { reachListeners.add(fn); return () => reachListeners.delete(fn); }

function lost() {
  reach.lost = true;
  if (watching) return;
  let wait = 1000;
  const look = async () => {
    let back = false;
    try { back = (await fetch('/healthz', { cache: 'no-store' })).ok; } catch { back = false; }
    if (!back) { wait = Math.min(10000, wait * 1.5); watching = setTimeout(look, wait); return; }
    watching = null;
    found();
  };
  watching = setTimeout(look, wait);
}

function found() {
  if (!reach.lost) return;
  reach.lost = false;
  if (watching) { clearTimeout(watching); watching = null; }
  reachListeners.forEach((fn) => fn());
}

const listeners = new Set();
/** Called with the AuthError whenever a call is refused for its token. */
export function onAuthError(fn) { listeners.add(fn); }

// ---------------------------------------------------------------- this tab's own writes
// A change this tab made comes back over the live subscriptions too; the versions its mutations were
// answered with tell the views it is theirs (not someone else's to announce).

const ownVersions = new Map(); // record or instance id -> the newest version a mutation of this tab returned
let writing = 0;
let idle = [];

/** The newest version of `id` that a mutation of this tab was answered with (0: none). */
export function ownVersion(id) { return ownVersions.get(id) || 0; }

/** Resolves once no mutation of this tab is on its way (at once when none is). */
export function settled() {
  return writing ? new Promise((resolve) => idle.push(resolve)) : Promise.resolve();
}

function noteOwn(data) {
  for (const value of Object.values(data || {})) {
    if (value && typeof value === 'object' && value.id && typeof value.version === 'number') {
      ownVersions.set(value.id, Math.max(value.version, ownVersions.get(value.id) || 0));
    }
  }
}

/** One GraphQL request; resolves to `data`, throws AuthError or ApiError. */
export async function gql(query, variables = {}, bearer = token.get()) {
  if (!/^\s*mutation\b/.test(query)) return request(query, variables, bearer);
  writing += 1;
  try {
    const data = await request(query, variables, bearer);
    noteOwn(data);
    return data;
  } finally {
    writing -= 1;
    if (!writing) { const waiting = idle; idle = []; waiting.forEach((resolve) => resolve()); }
  }
}

async function request(query, variables, bearer) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        Authorization: `Bearer ${bearer || ''}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    lost();
    throw new NetworkError(UNREACHABLE);
  }
  // Any answer (even a refusal) says the server is there again.
  found();
  if (response.status === 401) {
    const error = new AuthError('That token was not accepted. Check it and sign in again.');
    if (bearer === token.get()) listeners.forEach((fn) => fn(error));
    throw error;
  }
  noteProgram(response.headers.get(PROGRAM_HEADER));
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} ${response.statusText}.`);
  }
  if (body.errors && body.errors.length) {
    throw new ApiError(body.errors.map((e) => e.message).join(' '));
  }
  if (!response.ok) throw new ApiError(`The server answered ${response.status}.`);
  return body.data;
}

/**
 * A subscription over WebSocket (`graphql-transport-ws`). `onData(data)` gets each event;
 * `onStatus('live' | 'offline' | 'refused')` tells the view whether events flow (after a
 * reconnect the view refetches, since events may have been missed). Returns a stop function.
 */
export function subscribe(query, variables, onData, onStatus = () => {}) {
  let socket = null;
  let stopped = false;
  let attempt = 0;
  let timer = null;

  const open = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/graphql`, 'graphql-transport-ws');
    const send = (message) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(message));
    socket.addEventListener('open', () => {
      send({ type: 'connection_init', payload: { Authorization: `Bearer ${token.get() || ''}` } });
    });
    socket.addEventListener('message', (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === 'connection_ack') {
        attempt = 0;
        send({ id: '1', type: 'subscribe', payload: { query, variables } });
        // No message confirms a subscription; give the server a moment to start it.
        setTimeout(() => { if (!stopped && socket.readyState === WebSocket.OPEN) onStatus('live'); }, 250);
      } else if (message.type === 'next' && message.payload && message.payload.data) {
        onData(message.payload.data);
      } else if (message.type === 'ping') {
        send({ type: 'pong' });
      } else if (message.type === 'error') {
        onStatus('offline');
      }
    });
    socket.addEventListener('close', (event) => {
      if (stopped) return;
      if (event.code === 4403 || event.code === 4401) {
        onStatus('refused');
        return;
      }
      onStatus('offline');
      const wait = Math.min(30000, 1000 * 2 ** attempt++);
      timer = setTimeout(open, wait);
    });
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ id: '1', type: 'complete' }));
      socket.close(1000);
    } else if (socket) {
      socket.close();
    }
  };
}

// ---------------------------------------------------------------- metadata

// What the schema offers beyond API.md (`q`, `r`), who I am, the entities and processes: one request.
const CAPS = `
    q: __type(name: "Query") { fields { name args { name } } }
    r: __type(name: "Record") { fields { name } }`;
const ME = 'me { user roles }';
const BODY = `
    entities { name label fields { name label type required lookupEntity options { name label } } }
    processes { name label entity order version roles
      stages { name label category entity steps { name label field kind required } } }`;

const META_KEY = 'bpf.meta';
const PROGRAM_HEADER = 'Bpf-Program';
/** The tag of what the metadata is read from (the schema, the program, the page's files), put in the page. */
const pageProgram = document.querySelector('meta[name="bpf-program"]')?.content || null;

/** Loaded once per session (kept in sessionStorage across reloads); views read it synchronously. */
export const meta = {
  me: null,
  entities: [],
  processes: [],
  /** "field.arg" pairs the live schema offers beyond API.md (e.g. "records.search"). */
  args: new Set(),
  fields: new Set(),
  /** The program tag this metadata was read under. */
  program: null,
  entity(name) { return this.entities.find((e) => e.name === name) || null; },
  process(name) { return this.processes.find((p) => p.name === name) || null; },
  processesOf(entity) { return this.processes.filter((p) => p.entity === entity); },
  has(path) { return this.args.has(path) || this.fields.has(path); },
};

/** A short hash of a token: which token the kept metadata was read with (the token itself is kept apart). */
function tokenKey(bearer) {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < (bearer || '').length; i += 1) {
    const c = bearer.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
}

function capsOf(data) {
  const args = [];
  const fields = [];
  for (const field of data?.q?.fields || []) {
    fields.push(field.name);
    for (const arg of field.args) args.push(`${field.name}.${arg.name}`);
  }
  for (const field of data?.r?.fields || []) fields.push(`Record.${field.name}`);
  return { args, fields };
}

function fill(kept, program) {
  meta.args = new Set(kept.args);
  meta.fields = new Set(kept.fields);
  meta.me = kept.me || null;
  meta.entities = kept.entities;
  meta.processes = [...kept.processes].sort((a, b) => a.order - b.order || a.label.localeCompare(b.label));
  meta.program = program;
}

/** Forget the kept metadata (signing out, a refused token). */
export function forgetMeta() {
  sessionStorage.removeItem(META_KEY);
  meta.program = null;
}

/**
 * Fill `meta` from what this tab kept, if it was read with this token under the program the page was served
 * with. True when it was: no request needed.
 */
export function restoreMeta(bearer = token.get()) {
  if (!pageProgram || !bearer) return false;
  let kept;
  try { kept = JSON.parse(sessionStorage.getItem(META_KEY) || 'null'); } catch { kept = null; }
  if (!kept || kept.program !== pageProgram || kept.who !== tokenKey(bearer)) return false;
  fill(kept.data, kept.program);
  return true;
}

let lastProgram = null; // the Bpf-Program header of the latest answer
let loading = null; // the metadata request under way

async function fetchMeta(bearer) {
  try {
    return await gql(`query Meta {${CAPS}\n    ${ME}${BODY}\n  }`, {}, bearer);
  } catch (error) {
    if (error instanceof AuthError) throw error;
  }
  // A server without `me` (or without introspection): ask what it offers, then for the rest.
  let caps = null;
  try { caps = await gql(`query Caps {${CAPS}\n  }`, {}, bearer); } catch (error) {
    if (error instanceof AuthError) throw error;
  }
  const { fields } = capsOf(caps);
  const me = fields.length && !fields.includes('me') ? '' : ME;
  return { ...caps, ...(await gql(`query Meta {\n    ${me}${BODY}\n  }`, {}, bearer)) };
}

/** Load who I am, the entities and processes, and what the schema offers; keep them for this tab. */
export async function loadMeta(bearer = token.get()) {
  const run = (async () => {
    const data = await fetchMeta(bearer);
    const kept = { ...capsOf(data), me: data.me || null, entities: data.entities, processes: data.processes };
    const program = lastProgram || pageProgram;
    fill(kept, program);
    if (program) {
      try {
        sessionStorage.setItem(META_KEY, JSON.stringify({ program, who: tokenKey(bearer), data: kept }));
      } catch { /* storage full or off: read again on the next load */ }
    }
    return meta;
  })();
  loading = run;
  try {
    return await run;
  } finally {
    if (loading === run) loading = null;
  }
}

const changeListeners = new Set();
/** Called after the metadata was read again because an answer showed it stale, and it did change. */
export function onMetaChanged(fn) { changeListeners.add(fn); }

/** Read the metadata again (once at a time); tell the listeners if it changed. */
async function refreshMeta() {
  if (loading || !token.get()) return;
  const before = JSON.stringify([meta.me, meta.entities, meta.processes, [...meta.fields], [...meta.args]]);
  try {
    await loadMeta();
  } catch {
    return; // a refused token signs out (onAuthError); anything else: the next answer tries again
  }
  const after = JSON.stringify([meta.me, meta.entities, meta.processes, [...meta.fields], [...meta.args]]);
  if (after !== before) changeListeners.forEach((fn) => fn());
}

/** Every answer names the program the server runs: one unlike the metadata's means the metadata is stale. */
function noteProgram(program) {
  if (!program) return;
  lastProgram = program;
  if (meta.program && program !== meta.program && !loading) refreshMeta();
}

/** A view's answer included `me` (see `meField`): roles unlike the metadata's mean it is stale. */
export function checkMe(me) {
  if (!me || !meta.me || loading) return;
  const roles = (m) => [...m.roles].sort().join(',');
  if (me.user !== meta.me.user || roles(me) !== roles(meta.me)) refreshMeta();
}

/** `me { user roles }` for a view's query when the server offers it, so the view can call `checkMe`. */
export function meField() { return meta.has('me') ? ME : ''; }

/**
 * A record's display title: its first required text field with a value, else any text
 * field with a value, else the entity label and a short id. Nothing is entity-specific.
 */
export function recordTitle(record) {
  if (!record) return '';
  const entity = meta.entity(record.entity);
  const values = record.values || {};
  const texts = (entity ? entity.fields : []).filter((f) => f.type === 'text');
  const pick = texts.find((f) => f.required && values[f.name]) || texts.find((f) => values[f.name]);
  if (pick) return String(values[pick.name]);
  return `${entity ? entity.label : record.entity} ${String(record.id).slice(0, 8)}`;
}

/** The fields a record query needs to show a title. */
export const RECORD_BRIEF = 'id entity version values updatedAt';
