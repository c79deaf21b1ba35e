// The records list: an entity picker, filters by process and stage, search, cursor paging,
// and the "New …" dialog whose form is generated from the entity's fields.

import { checkMe, gql, meField, meta, recordTitle } from './api.js';
import { fieldControl, same, showErrors } from './forms.js';
import { rememberTitle } from './lookup.js';
import { announce, debounce, h, keepFocus, mount, timeEl } from './util.js';

const PAGE_SIZE = 20;

export const STATUS_WORDS = { ACTIVE: 'Active', FINISHED: 'Finished', ABORTED: 'Abandoned' };

function listQuery() {
  const extra = [];
  const params = [];
  if (meta.has('records.search')) { params.push('$search: String'); extra.push('search: $search'); }
  if (meta.has('records.process')) { params.push('$process: String'); extra.push('process: $process'); }
  return `query List($entity: String!, $stage: String, $first: Int, $after: String${params.map((p) => `, ${p}`).join('')}) {
    records(entity: $entity, stage: $stage, first: $first, after: $after${extra.map((e) => `, ${e}`).join('')}) {
      total nextCursor
      items { id entity version values createdAt
        activeInstance { id status process { name label } activeStage { name label } } }
    }
    ${meField()}
    ${meta.has('newRecordForm') ? 'creatable: entities { name canCreate }' : ''}
  }`;
}

export function renderRecords(main, params, { navigate, settle }) {
  const entities = meta.entities;
  if (!entities.length) {
    mount(main, h('h1', {}, 'Records'), h('p', {}, 'No entities are defined. Serve some .bpf files.'));
    settle('Records');
    return () => {};
  }
  const withProcess = entities.find((e) => meta.processesOf(e.name).length) || entities[0];
  const state = {
    entity: meta.entity(params.get('entity')) ? params.get('entity') : withProcess.name,
    process: params.get('process') || '',
    stage: params.get('stage') || '',
    search: params.get('q') || '',
    cursors: [null], // cursor of each page seen; the last is the current page's (undefined: not known)
  };
  // The page is kept in the address (after=CURSOR&page=N) so a reload or a shared link shows the
  // same page; the cursors seen before it live in the history entry, for "Previous page".
  const after = params.get('after');
  if (after) {
    const seen = history.state && Array.isArray(history.state.listCursors) ? history.state.listCursors : null;
    const pageNo = Math.max(2, parseInt(params.get('page'), 10) || 2);
    state.cursors = seen && seen.length > 1 && seen[seen.length - 1] === after
      ? seen
      : [...Array.from({ length: pageNo - 1 }, (_, i) => (i === 0 ? null : undefined)), after];
  }
  let alive = true;
  let requestNo = 0;
  let creatable = null; // the entities the caller may create records of, once the server said

  const entitySelect = h('select', { id: 'filter-entity' });
  const processSelect = h('select', { id: 'filter-process' });
  const stageSelect = h('select', { id: 'filter-stage' });
  const searchInput = h('input', { id: 'filter-search', type: 'search', value: state.search, autocomplete: 'off',
    placeholder: 'Name, email, any text…' });
  const newButton = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => openCreate() });
  const status = h('p', { class: 'list-status', role: 'status', 'aria-live': 'polite' });
  const results = h('div', { class: 'results' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const dialogHost = h('div');

  const fillSelect = (select, options, value) => {
    select.replaceChildren(...options.map((o) => (o.group
      ? h('optgroup', { label: o.group }, ...o.options.map((x) => h('option', { value: x.value, selected: x.value === value }, x.label)))
      : h('option', { value: o.value, selected: o.value === value }, o.label))));
    select.value = value;
  };

  const refreshFilters = () => {
    fillSelect(entitySelect, entities.map((e) => ({ value: e.name, label: e.label })), state.entity);
    const processes = meta.processesOf(state.entity);
    if (!processes.some((p) => p.name === state.process)) state.process = '';
    fillSelect(processSelect, [{ value: '', label: 'Any process' },
      ...processes.map((p) => ({ value: p.name, label: p.label }))], state.process);
    processSelect.disabled = !processes.length;
    const scope = state.process ? processes.filter((p) => p.name === state.process) : processes;
    const stageOptions = scope.length === 1
      ? scope[0].stages.map((s) => ({ value: s.name, label: s.label }))
      : scope.map((p) => ({ group: p.label, options: p.stages.map((s) => ({ value: s.name, label: s.label })) }));
    const known = scope.some((p) => p.stages.some((s) => s.name === state.stage));
    if (!known) state.stage = '';
    fillSelect(stageSelect, [{ value: '', label: 'Any stage' }, ...stageOptions], state.stage);
    stageSelect.disabled = !processes.length;
    const entity = meta.entity(state.entity);
    newButton.textContent = `New ${entity.label}`;
    // Offered until the server says otherwise (its first answer says it for every entity): a refused
    // create would say why anyway, and a keyboard user finds the button where it always is.
    newButton.hidden = creatable !== null && !creatable.has(state.entity);
  };

  /** "New …" only for an entity the caller's roles may create records of. */
  const showNewButton = (entities) => {
    if (!entities) return;
    creatable = new Set(entities.filter((e) => e.canCreate).map((e) => e.name));
    newButton.hidden = !creatable.has(state.entity);
  };

  /**
   * The list's state into the address. A page turn or a filter change is a new history entry
   * (Back goes to the list as it was; popstate renders it again from the address and the entry's
   * cursors); typing a search replaces the entry it started, not one entry per pause.
   */
  const syncUrl = ({ replace = false, typing = false } = {}) => {
    const q = new URLSearchParams();
    q.set('entity', state.entity);
    if (state.process) q.set('process', state.process);
    if (state.stage) q.set('stage', state.stage);
    if (state.search) q.set('q', state.search);
    const cursor = state.cursors[state.cursors.length - 1];
    if (cursor) {
      q.set('after', cursor);
      q.set('page', String(state.cursors.length));
    }
    const url = `/?${q}`;
    const entry = { listCursors: state.cursors, typing };
    if (replace || (typing && history.state && history.state.typing)) history.replaceState(entry, '', url);
    else if (url !== location.pathname + location.search) history.pushState(entry, '', url);
    else history.replaceState(entry, '', url);
  };

  const load = async () => {
    const mine = ++requestNo;
    const entity = meta.entity(state.entity);
    results.setAttribute('aria-busy', 'true');
    const variables = { entity: state.entity, stage: state.stage || null, first: PAGE_SIZE,
      after: state.cursors[state.cursors.length - 1] };
    if (meta.has('records.search')) variables.search = state.search || null;
    if (meta.has('records.process')) variables.process = state.process || null;
    let page;
    try {
      const data = await gql(listQuery(), variables);
      checkMe(data.me);
      page = data.records;
      if (alive && mine === requestNo) showNewButton(data.creatable);
    } catch (error) {
      if (!alive || mine !== requestNo) return;
      results.removeAttribute('aria-busy');
      mount(results, h('p', { class: 'error-box', role: 'alert' }, error.message));
      return;
    }
    if (!alive || mine !== requestNo) return;
    results.removeAttribute('aria-busy');
    let items = page.items;
    items.forEach(rememberTitle);
    if (!meta.has('records.process') && state.process) {
      // Older servers: filter the page by the active instance's process.
      items = items.filter((r) => r.activeInstance && r.activeInstance.process.name === state.process);
    }
    const start = (state.cursors.length - 1) * PAGE_SIZE;
    const noun = entity.label;
    status.textContent = page.total
      ? `Showing ${start + 1}–${start + items.length} of ${page.total} ${noun} records`
      : `No ${noun} records${state.search || state.stage || state.process ? ' match these filters' : ' yet'}.`;
    mount(results, items.length ? table(entity, items) : h('div', { class: 'empty' },
      h('p', {}, state.search || state.stage || state.process ? 'Nothing matches. Clear a filter to see more.' : `Create the first ${noun} with “New ${noun}”.`)));
    // A page opened from a link doesn't know the cursors before it: then "Previous" is the first page.
    // Page 2's previous is the first page (its cursor is null); past that it must be a known cursor.
    const before = state.cursors[state.cursors.length - 2];
    const prevKnown = state.cursors.length <= 2 || (before !== undefined && before !== null);
    const prev = h('button', { type: 'button', class: 'btn', disabled: state.cursors.length <= 1,
      onclick: () => {
        state.cursors.pop();
        if (state.cursors[state.cursors.length - 1] === undefined) state.cursors = [null];
        syncUrl();
        load().then(() => focusFirstRow());
      } }, prevKnown ? 'Previous page' : 'First page');
    const next = h('button', { type: 'button', class: 'btn', disabled: !page.nextCursor,
      onclick: () => { state.cursors.push(page.nextCursor); syncUrl(); load().then(() => focusFirstRow()); } }, 'Next page');
    mount(pager, prev, h('span', { class: 'muted' }, `Page ${state.cursors.length}`), next);
  };

  const focusFirstRow = () => results.querySelector('a')?.focus();

  const table = (entity, items) => h('div', { class: 'table-wrap' }, h('table', { class: 'records' },
    h('caption', { class: 'sr-only' }, `${entity.label} records`),
    h('thead', {}, h('tr', {}, ...['Name', 'Process', 'Stage', 'Status', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...items.map((r) => {
      const inst = r.activeInstance;
      return h('tr', {},
        h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `/records/${encodeURIComponent(r.id)}` }, recordTitle(r))),
        h('td', { 'data-label': 'Process' }, inst ? inst.process.label : h('span', { class: 'muted' }, '—')),
        h('td', { 'data-label': 'Stage' }, inst ? h('span', { class: 'pill' }, inst.activeStage.label) : '—'),
        h('td', { 'data-label': 'Status' }, inst ? h('span', { class: `status status-${inst.status.toLowerCase()}` }, STATUS_WORDS[inst.status] || inst.status) : '—'),
        // The records API lists the newest created first: the column says when each was created.
        h('td', { 'data-label': 'Created' }, timeEl(r.createdAt)));
    }))));

  // A search typed just before leaving the list must not rewrite the next page's address.
  const restart = (typing = false) => { if (!alive) return; state.cursors = [null]; syncUrl({ typing }); load(); };
  entitySelect.addEventListener('change', () => { state.entity = entitySelect.value; state.process = ''; state.stage = ''; refreshFilters(); restart(); });
  processSelect.addEventListener('change', () => { state.process = processSelect.value; refreshFilters(); restart(); });
  stageSelect.addEventListener('change', () => { state.stage = stageSelect.value; restart(); });
  const searchSoon = debounce(() => { state.search = searchInput.value.trim(); restart(true); }, 250);
  searchInput.addEventListener('input', searchSoon);

  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter records', onsubmit: (e) => { e.preventDefault(); state.search = searchInput.value.trim(); restart(); } },
    h('div', { class: 'filter' }, h('label', { for: 'filter-entity' }, 'Entity'), entitySelect),
    h('div', { class: 'filter' }, h('label', { for: 'filter-process' }, 'Process'), processSelect),
    h('div', { class: 'filter' }, h('label', { for: 'filter-stage' }, 'Stage'), stageSelect),
    h('div', { class: 'filter filter-grow' }, h('label', { for: 'filter-search' }, 'Search'), searchInput));

  function openCreate() {
    const entity = meta.entity(state.entity);
    if (!entity || newButton.hidden) return;
    const dialog = newRecordDialog(entity, {
      navigate,
      onClose: () => { dialog.remove(); newButton.focus(); },
    });
    dialogHost.append(dialog);
    dialog.showModal();
    dialog.querySelector('.fields input, .fields select')?.focus();
  }

  refreshFilters();
  // A filter from the address the user can't use (a stage or process of a process their roles
  // don't show) is dropped from the address, and said, rather than silently ignored.
  const dropped = [];
  if (params.get('process') && state.process !== params.get('process')) dropped.push('process');
  if (params.get('stage') && state.stage !== params.get('stage')) dropped.push('stage');
  const filterNote = h('p', { class: 'filter-note note', hidden: !dropped.length },
    dropped.length ? `The address asked for a ${dropped.join(' and ')} filter: that ${dropped.join(' and ')} filter isn't available to you, so all ${meta.entity(state.entity).label} records are shown.` : '');
  if (dropped.length) {
    syncUrl({ replace: true });
    setTimeout(() => announce(filterNote.textContent), 300);
  }
  mount(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Records'), newButton),
    filters, filterNote, status, results, pager, dialogHost);
  settle('Records');
  load();
  return () => { alive = false; };
}

const NEW_FORM = `query NewForm($entity: String!, $values: JSON) {
  newRecordForm(entity: $entity, values: $values) {
    name label type value required hidden locked recommendation lookupEntity options { name label } } }`;

const CREATE = `mutation Create($entity: String!, $values: JSON!, $process: String, $noProcess: Boolean) {
  createRecord(entity: $entity, values: $values, process: $process, noProcess: $noProcess) {
    __typename
    ... on Record { id entity values }
    ... on ValidationError { message fieldErrors { field message } } } }`;

/**
 * The fields of `entity` that stages after the first of `process` own (its data steps on this entity
 * there, and not in the first stage): filled on the bar when the process gets there, not at creation.
 */
export function laterOwned(process, entity) {
  const own = (process ? process.stages : []).filter((s) => s.entity === entity);
  if (!own.length) return new Set();
  const fieldsOf = (stage) => stage.steps.filter((st) => st.kind === 'data' && st.field).map((st) => st.field);
  const first = new Set(fieldsOf(own[0]));
  return new Set(own.slice(1).flatMap(fieldsOf).filter((f) => !first.has(f)));
}

/**
 * The New dialog of `entity`: its fields with the server's defaults, the business rules applied as the
 * user types (the server evaluates them over what is typed: `newRecordForm`), and each refusal next to its
 * field. Offered: the fields a person fills at creation: not those the rules hide or lock (computed or kept
 * to commands), nor those later stages of the chosen process own; a required field always.
 */
function newRecordDialog(entity, { navigate, onClose }) {
  const processes = meta.processesOf(entity.name);
  const live = meta.has('newRecordForm');
  // The form as the server last said it; without the server's help, the declared fields.
  let states = entity.fields.map((f) => ({ ...f, value: null, hidden: false, locked: false, recommendation: null }));
  const controls = new Map(); // field name -> {control, key}: kept across redraws, so what was typed stays
  let shown = []; // the controls on screen, in field order
  let requestNo = 0;

  const processSelect = h('select', { id: 'new-process' },
    ...processes.map((p, i) => h('option', { value: p.name, selected: i === 0 }, p.label)),
    h('option', { value: '' }, 'No process'));
  const summary = h('div', { class: 'error-box', role: 'alert', hidden: true });
  const fieldsBox = h('div', { class: 'fields' });
  const note = h('p', { class: 'hint new-note' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, `Create ${entity.label}`);
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'new-title' });
  const close = () => dialog.close();

  /** What the user typed (touched fields only: the others are the server's defaults), and the problems. */
  const typed = (only = null) => {
    const values = {};
    const problems = [];
    for (const { control } of controls.values()) {
      if (!control.touched() || (only && !only.includes(control))) continue;
      const { value, problem } = control.read();
      if (problem) problems.push({ field: control.name, message: problem });
      else if (value !== null) values[control.name] = value;
    }
    return { values, problems };
  };

  const offered = (s) => {
    if (s.hidden || s.locked) return false;
    return s.required || !laterOwned(meta.process(processSelect.value), entity.name).has(s.name);
  };

  /** One field's control: the one drawn before while its marks are the same, else a new one with its value. */
  const controlFor = (s) => {
    const key = `${s.required}|${s.recommendation || ''}`;
    const had = controls.get(s.name);
    if (had && had.key === key) {
      if (!had.control.touched() && !same(had.control.base(), s.value)) had.control.set(s.value);
      return had.control;
    }
    const control = fieldControl(s, { idPrefix: 'new', value: s.value, required: s.required,
      recommendation: s.recommendation, onCommit: () => reread() });
    if (had && had.control.touched()) {
      control.draft(had.control.read().value);
      control.setError(had.control.error());
    }
    control.el.addEventListener('input', () => rereadSoon());
    controls.set(s.name, { control, key });
    return control;
  };

  const draw = () => keepFocus(fieldsBox, () => {
    shown = states.filter(offered).map(controlFor);
    placeIn(fieldsBox, shown.map((c) => c.el));
    const left = states.filter((s) => !s.hidden && !offered(s)).map((s) => s.label);
    note.textContent = left.length
      ? `Filled later, by the process or the business rules: ${left.join(', ')}.` : '';
  });

  /** Ask the server for the form over what is typed now (defaults, the rules' verdict), and redraw. */
  const reread = async () => {
    if (!live) return;
    const mine = ++requestNo;
    try {
      const data = await gql(NEW_FORM, { entity: entity.name, values: typed().values });
      if (mine !== requestNo || !dialog.open || !data.newRecordForm) return;
      states = data.newRecordForm;
      draw();
    } catch { /* the dialog still works with the form it has; createRecord says what is wrong */ }
  };
  const rereadSoon = debounce(reread, 250);
  processSelect.addEventListener('change', draw);

  const form = h('form', { novalidate: true, class: 'form-grid' },
    h('div', { class: 'dialog-head' }, h('h2', { id: 'new-title' }, `New ${entity.label}`),
      h('button', { type: 'button', class: 'btn btn-quiet btn-icon', 'aria-label': 'Close', onclick: close }, '×')),
    summary, fieldsBox, note,
    processes.length ? h('div', { class: 'field' }, h('label', { for: 'new-process' }, 'Process'), processSelect,
      h('p', { class: 'hint' }, 'The process bar that starts on this record.')) : null,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', class: 'btn', onclick: close }, 'Cancel')));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await reread(); // the rules' verdict on what is typed now: what is required, what is offered
    const { values, problems } = typed(shown);
    const missing = shown.filter((c) => {
      const s = states.find((x) => x.name === c.name);
      return s && s.required && values[c.name] === undefined && (s.value === null || s.value === undefined);
    }).map((c) => ({ field: c.name, message: `${c.field.label} is required` }));
    if (problems.length || missing.length) {
      showErrors(shown, [...problems, ...missing], summary, 'Check the fields marked below.');
      return;
    }
    submit.disabled = true;
    try {
      const process = processSelect.value;
      const data = await gql(CREATE, { entity: entity.name, values, process: process || null,
        noProcess: !process && processes.length > 0 });
      const result = data.createRecord;
      if (result.__typename === 'ValidationError') {
        // Each refusal beside its field; one for a field not on screen (or none) in the summary, labelled.
        const onScreen = new Set(shown.map((c) => c.name));
        const errors = result.fieldErrors.map((fe) => (fe.field && !onScreen.has(fe.field)
          ? { field: null, message: fieldWords(entity, fe) } : fe));
        showErrors(shown, errors, summary, result.message);
        return;
      }
      announce(`${entity.label} “${recordTitle(result)}” created.`);
      dialog.close();
      navigate(`/records/${encodeURIComponent(result.id)}`);
    } catch (error) {
      showErrors(shown, [], summary, error.message);
    } finally {
      submit.disabled = false;
    }
  });
  dialog.append(form);
  dialog.addEventListener('close', onClose);
  draw();
  reread();
  return dialog;
}

/**
 * Make `box`'s children `els` (in order) moving none that stays: a moved element loses the focus (and a
 * lookup being searched would close), so the ones to go are removed and the new ones inserted in place.
 */
function placeIn(box, els) {
  const keep = new Set(els);
  [...box.children].forEach((child) => { if (!keep.has(child)) child.remove(); });
  els.forEach((el, i) => { if (box.children[i] !== el) box.insertBefore(el, box.children[i] || null); });
}

/** A FieldError for a field the dialog doesn't show, as a sentence that names the field. */
function fieldWords(entity, fe) {
  const label = entity.fields.find((f) => f.name === fe.field)?.label || fe.field;
  return fe.message.includes(label) ? fe.message : `${label}: ${fe.message}`;
}
