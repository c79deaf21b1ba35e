// The records list: an entity picker, filters by process and stage, search, cursor paging,
// and the "New …" dialog whose form is generated from the entity's fields.

import { checkMe, gql, meField, meta, recordTitle } from './api.js';
import { collect, fieldControl, showErrors } from './forms.js';
import { rememberTitle } from './lookup.js';
import { announce, debounce, h, mount, timeEl } from './util.js';

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
    const processes = meta.processesOf(entity.name);
    const controls = entity.fields.map((field) => fieldControl(field, { idPrefix: 'new', required: field.required }));
    const processSelectNew = h('select', { id: 'new-process' },
      ...processes.map((p, i) => h('option', { value: p.name, selected: i === 0 }, p.label)),
      h('option', { value: '' }, 'No process'));
    const summary = h('div', { class: 'error-box', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, `Create ${entity.label}`);
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'new-title' });
    const close = () => { dialog.close(); };
    const form = h('form', { novalidate: true, class: 'form-grid' },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'new-title' }, `New ${entity.label}`),
        h('button', { type: 'button', class: 'btn btn-quiet btn-icon', 'aria-label': 'Close', onclick: close }, '×')),
      summary,
      h('div', { class: 'fields' }, ...controls.map((c) => c.el)),
      processes.length ? h('div', { class: 'field' }, h('label', { for: 'new-process' }, 'Process'), processSelectNew,
        h('p', { class: 'hint' }, 'The process bar that starts on this record.')) : null,
      h('div', { class: 'actions' }, submit, h('button', { type: 'button', class: 'btn', onclick: close }, 'Cancel')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const { values, problems } = collect(controls);
      const missing = controls.filter((c) => c.field.required && (values[c.name] === null || values[c.name] === undefined))
        .map((c) => ({ field: c.name, message: `${c.field.label} is required` }));
      if (problems.length || missing.length) {
        showErrors(controls, [...problems, ...missing], summary, 'Check the fields marked below.');
        return;
      }
      for (const key of Object.keys(values)) if (values[key] === null) delete values[key];
      submit.disabled = true;
      try {
        const process = processSelectNew.value;
        const data = await gql(`mutation Create($entity: String!, $values: JSON!, $process: String, $noProcess: Boolean) {
          createRecord(entity: $entity, values: $values, process: $process, noProcess: $noProcess) {
            __typename
            ... on Record { id entity values }
            ... on ValidationError { message fieldErrors { field message } }
          } }`, { entity: entity.name, values, process: process || null, noProcess: !process && processes.length > 0 });
        const result = data.createRecord;
        if (result.__typename === 'ValidationError') {
          showErrors(controls, result.fieldErrors, summary, result.message);
          return;
        }
        announce(`${entity.label} “${recordTitle(result)}” created.`);
        dialog.close();
        navigate(`/records/${encodeURIComponent(result.id)}`);
      } catch (error) {
        showErrors(controls, [], summary, error.message);
      } finally {
        submit.disabled = false;
      }
    });
    dialog.append(form);
    dialog.addEventListener('close', () => { dialog.remove(); newButton.focus(); });
    dialogHost.append(dialog);
    dialog.showModal();
    controls[0]?.focus();
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
