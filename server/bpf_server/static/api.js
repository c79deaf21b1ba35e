// Talking to the server: the token, GraphQL over HTTP, subscriptions over graphql-transport-ws,
// and the metadata every view reads (entities, processes, who I am).

const TOKEN_KEY = 'bpf.token';

/** The token lives in sessionStorage: it stays for this tab and goes when the tab closes. */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The server refused the token (401): the app signs out and asks for it again. */
export class AuthError extends Error {}
/** A GraphQL or network error that isn't one of the schema's expected results. */
export class ApiError extends Error {}

const listeners = new Set();
/** Called with the AuthError whenever a call is refused for its token. */
export function onAuthError(fn) { listeners.add(fn); }

/** One GraphQL request; resolves to `data`, throws AuthError or ApiError. */
export async function gql(query, variables = {}, bearer = token.get()) {
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
    throw new ApiError('The server could not be reached. Check your connection and try again.');
  }
  if (response.status === 401) {
    const error = new AuthError('That token was not accepted. Check it and sign in again.');
    if (bearer === token.get()) listeners.forEach((fn) => fn(error));
    throw error;
  }
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

const META = `
  query Meta {
    me { user roles }
    entities { name label fields { name label type required lookupEntity options { name label } } }
    processes { name label entity order version roles
      stages { name label category entity steps { name label field kind required } } }
  }`;

const CAPS = `
  query Caps {
    q: __type(name: "Query") { fields { name args { name } } }
    r: __type(name: "Record") { fields { name } }
  }`;

/** Loaded once after signing in; views read it synchronously. */
export const meta = {
  me: null,
  entities: [],
  processes: [],
  /** "field.arg" pairs the live schema offers beyond API.md (e.g. "records.search"). */
  args: new Set(),
  fields: new Set(),
  entity(name) { return this.entities.find((e) => e.name === name) || null; },
  process(name) { return this.processes.find((p) => p.name === name) || null; },
  processesOf(entity) { return this.processes.filter((p) => p.entity === entity); },
  has(path) { return this.args.has(path) || this.fields.has(path); },
};

/** Load who I am, the entities and processes, and what the schema offers. */
export async function loadMeta(bearer = token.get()) {
  let caps = null;
  try { caps = await gql(CAPS, {}, bearer); } catch (error) {
    if (error instanceof AuthError) throw error;
  }
  meta.args = new Set();
  meta.fields = new Set();
  for (const field of caps?.q?.fields || []) {
    meta.fields.add(field.name);
    for (const arg of field.args) meta.args.add(`${field.name}.${arg.name}`);
  }
  for (const field of caps?.r?.fields || []) meta.fields.add(`Record.${field.name}`);
  const query = meta.fields.size && !meta.fields.has('me') ? META.replace('me { user roles }', '') : META;
  const data = await gql(query, {}, bearer);
  meta.me = data.me || null;
  meta.entities = data.entities;
  meta.processes = [...data.processes].sort((a, b) => a.order - b.order || a.label.localeCompare(b.label));
  return meta;
}

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
