// The searchable record picker for lookup fields: an ARIA 1.2 combobox with a listbox popup.
// Type to search the entity's records; ArrowDown/ArrowUp move, Enter picks, Escape closes.

import { gql, meta, recordTitle, RECORD_BRIEF } from './api.js';
import { h, debounce } from './util.js';

const titles = new Map(); // record id -> title, so a picked value shows its name at once
let wanted = new Map(); // record id -> the callers waiting for its title
const TITLES_PER_REQUEST = 25; // under the server's 30 aliases an operation

/**
 * The title of a record by id (cached), for showing a lookup's current value. The titles asked for while a
 * view draws are read together, in one request.
 */
export function titleOf(id) {
  if (!id) return Promise.resolve('');
  if (titles.has(id)) return Promise.resolve(titles.get(id));
  return new Promise((resolve) => {
    if (!wanted.size) queueMicrotask(readTitles);
    if (!wanted.has(id)) wanted.set(id, []);
    wanted.get(id).push(resolve);
  });
}

function readTitles() {
  const batch = wanted;
  wanted = new Map();
  const ids = [...batch.keys()];
  for (let start = 0; start < ids.length; start += TITLES_PER_REQUEST) {
    const chunk = ids.slice(start, start + TITLES_PER_REQUEST);
    const params = chunk.map((_, n) => `$i${n}: ID!`).join(', ');
    const fields = chunk.map((_, n) => `r${n}: record(id: $i${n}) { ${RECORD_BRIEF} }`).join(' ');
    const variables = Object.fromEntries(chunk.map((id, n) => [`i${n}`, id]));
    gql(`query Titles(${params}) { ${fields} }`, variables).then((data) => {
      chunk.forEach((id, n) => {
        const record = data[`r${n}`];
        titles.set(id, record ? recordTitle(record) : `(missing record ${id})`);
      });
    }, () => {}).finally(() => {
      chunk.forEach((id) => batch.get(id).forEach((resolve) => resolve(titles.get(id) ?? String(id))));
    });
  }
}

/** The title of a record already known here (a pick, a list, a page's lookups), else undefined. */
export function knownTitle(id) {
  return id ? titles.get(id) : undefined;
}

export function rememberTitle(record) {
  titles.set(record.id, recordTitle(record));
}

async function searchRecords(entity, text, where) {
  const useSearch = meta.has('records.search');
  const query = useSearch
    ? `query S($e: String!, $q: String, $w: JSON) { records(entity: $e, search: $q, where: $w, first: 8) { items { ${RECORD_BRIEF} } } }`
    : `query S($e: String!, $w: JSON) { records(entity: $e, where: $w, first: 200) { items { ${RECORD_BRIEF} } } }`;
  const data = await gql(query, useSearch ? { e: entity, q: text || null, w: where } : { e: entity, w: where });
  let items = data.records.items;
  items.forEach(rememberTitle);
  if (!useSearch && text) {
    const needle = text.toLowerCase();
    items = items.filter((r) => recordTitle(r).toLowerCase().includes(needle));
  }
  return items.slice(0, 8);
}

/**
 * A lookup picker. `input` gets `id` (so a <label for> names it); `onPick(id|null)` is called
 * when the choice changes; `where` (field → value) narrows the records offered. Returns {el, input, get value(), set value(id), disabled}.
 */
export function lookupPicker({ id, entity, value = null, disabled = false, describedBy = null, where = null, onPick = () => {} }) {
  const listId = `${id}-list`;
  const entityLabel = meta.entity(entity)?.label || entity;
  let current = value;
  // The title of the record picked, shown in the box: known at once when cached (a pick redrawn after
  // its save must not show an empty box, which leaving would take as "cleared").
  let shownTitle = knownTitle(current) ?? '';
  // The user typed in the box since its value was last shown: only then is an empty box a clear.
  let typing = false;
  let options = [];
  let activeIndex = -1;
  let requestNo = 0;

  const input = h('input', {
    id, type: 'text', role: 'combobox', autocomplete: 'off', spellcheck: 'false',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
    'aria-describedby': describedBy, placeholder: `Search ${entityLabel}…`, disabled, value: shownTitle,
  });
  const list = h('ul', { id: listId, role: 'listbox', class: 'combo-list', hidden: true, 'aria-label': `${entityLabel} records` });
  const clear = h('button', {
    type: 'button', class: 'combo-clear', 'aria-label': `Clear ${entityLabel}`, hidden: !current || disabled,
    onclick: () => { choose(null); input.focus(); },
  }, '×');
  const el = h('div', { class: 'combo' }, input, clear, list);

  const setExpanded = (open) => {
    list.hidden = !open;
    input.setAttribute('aria-expanded', String(open));
    if (!open) { activeIndex = -1; input.removeAttribute('aria-activedescendant'); }
  };

  const highlight = (index) => {
    activeIndex = index;
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === index)));
    const li = list.children[index];
    if (li && li.id) {
      input.setAttribute('aria-activedescendant', li.id);
      li.scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  };

  const choose = (record) => {
    const next = record ? record.id : null;
    shownTitle = record ? recordTitle(record) : '';
    input.value = shownTitle;
    typing = false;
    clear.hidden = !next || input.disabled;
    setExpanded(false);
    if (next !== current) {
      current = next;
      onPick(current);
    }
  };

  const renderOptions = (items, text) => {
    options = items;
    const children = items.length
      ? items.map((record, i) => h('li', {
        id: `${listId}-${i}`, role: 'option', 'aria-selected': 'false', class: 'combo-option',
        onmousedown: (event) => { event.preventDefault(); choose(record); },
      }, recordTitle(record)))
      : [h('li', { class: 'combo-empty', role: 'option', 'aria-disabled': 'true', 'aria-selected': 'false' },
        text ? `No ${entityLabel} matches “${text}”` : `No ${entityLabel} records yet`)];
    list.replaceChildren(...children);
    setExpanded(true);
    highlight(items.length ? 0 : -1);
  };

  const search = async () => {
    const mine = ++requestNo;
    const text = input.value.trim();
    try {
      const items = await searchRecords(entity, text, where);
      if (mine === requestNo && document.activeElement === input) renderOptions(items, text);
    } catch (error) {
      if (mine === requestNo) {
        list.replaceChildren(h('li', { class: 'combo-empty', role: 'option', 'aria-disabled': 'true', 'aria-selected': 'false' }, error.message));
        setExpanded(true);
      }
    }
  };
  const searchSoon = debounce(search, 180);

  input.addEventListener('input', () => { typing = true; searchSoon(); });
  input.addEventListener('keydown', (event) => {
    const open = !list.hidden;
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      if (!open) search();
      else if (options.length) highlight(Math.min(options.length - 1, activeIndex + 1));
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      if (open && options.length) highlight(Math.max(0, activeIndex - 1));
    } else if (event.key === 'Enter') {
      if (open && activeIndex >= 0 && options[activeIndex]) {
        event.preventDefault();
        choose(options[activeIndex]);
      }
    } else if (event.key === 'Escape') {
      if (open) {
        event.preventDefault();
        event.stopPropagation();
        setExpanded(false);
        input.value = shownTitle;
        typing = false;
      }
    }
  });
  input.addEventListener('blur', () => {
    setExpanded(false);
    // Only text the user erased clears the pick: a box still waiting for its title is not empty.
    if (typing && input.value.trim() === '' && current) choose(null);
    else { input.value = shownTitle; typing = false; }
  });

  /** Show the title of the current record once known, unless the user is typing a search meanwhile. */
  const showTitleOf = (id) => {
    if (!id || knownTitle(id) !== undefined) return;
    titleOf(id).then((title) => {
      if (current !== id) return;
      shownTitle = title;
      if (!typing) input.value = title;
    });
  };
  showTitleOf(current);

  return {
    el,
    input,
    get value() { return current; },
    set value(next) {
      current = next || null;
      clear.hidden = !current || input.disabled;
      typing = false;
      shownTitle = knownTitle(current) ?? '';
      input.value = shownTitle;
      showTitleOf(current);
    },
  };
}
