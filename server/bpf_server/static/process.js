// A process's page: its diagram (the server's SVG, parsed and cleaned before it is inserted)
// and its funnel: records per stage, conversion to the next stage, time in stage.

import { checkMe, gql, meField, meta } from './api.js';
import { duration, h, mount, percent } from './util.js';

const query = () => `query ProcessPage($name: String!) {
  processDiagram(name: $name, format: "svg")
  processAnalytics(name: $name) {
    stages { stage { name label } count medianSeconds p90Seconds conversionToNext }
    outcomes { outcome { name label } count } }
  ${meField()}
}`;

const SVG_NS = 'http://www.w3.org/2000/svg';
const DROP = new Set(['script', 'foreignobject', 'iframe', 'object', 'embed', 'audio', 'video', 'animate', 'set',
  'animatemotion', 'animatetransform', 'handler', 'listener']);

/**
 * Parse SVG text into a clean <svg> element: no scripts, no foreign objects, no event
 * handler attributes, no links outside the document. Returns null when it doesn't parse.
 */
export function cleanSvg(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (!root || root.localName !== 'svg' || root.namespaceURI !== SVG_NS || doc.getElementsByTagName('parsererror').length) return null;
  const walk = [root];
  while (walk.length) {
    const node = walk.pop();
    for (const child of [...node.children]) {
      if (DROP.has(child.localName.toLowerCase()) || child.namespaceURI !== SVG_NS) child.remove();
      else walk.push(child);
    }
    for (const attr of [...node.attributes]) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim().toLowerCase();
      const link = name === 'href' || name.endsWith(':href');
      if (name.startsWith('on') || (link && !value.startsWith('#')) || value.includes('javascript:')) {
        node.removeAttribute(attr.name);
      }
    }
  }
  const svg = document.importNode(root, true);
  if (!svg.getAttribute('viewBox')) {
    const w = parseFloat(svg.getAttribute('width'));
    const hgt = parseFloat(svg.getAttribute('height'));
    if (w && hgt) svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  }
  // The drawing's own size, in CSS px (Graphviz writes points), is where `readable` starts from.
  const natural = cssPixels(svg.getAttribute('width'));
  if (natural) svg.dataset.width = String(natural);
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  return svg;
}

/** An SVG length ("300pt", "300px", "300") in CSS px; null for anything else (a percentage). */
function cssPixels(length) {
  const m = /^\s*([\d.]+)\s*(pt|px)?\s*$/.exec(length || '');
  if (!m) return null;
  return parseFloat(m[1]) * (m[2] === 'pt' ? 4 / 3 : 1);
}

/** The smallest text a diagram may show, in CSS px once drawn (the issue's floor, a hair over). */
export const DIAGRAM_MIN_TEXT_PX = 12.5;

/**
 * Size a mounted diagram so it is read, not squinted at: its natural size, never shrunk to fit the
 * column (the box scrolls sideways instead), and grown until its smallest text is at least
 * DIAGRAM_MIN_TEXT_PX on screen, whichever renderer drew it and whatever font sizes it used.
 */
export function readable(svg) {
  const box = svg.viewBox && svg.viewBox.baseVal;
  const base = Number(svg.dataset.width) || (box && box.width) || 0;
  if (!base) return;
  svg.style.width = `${base}px`;
  const smallest = Math.min(...[...svg.querySelectorAll('text')].map(textPixels));
  if (Number.isFinite(smallest) && smallest > 0 && smallest < DIAGRAM_MIN_TEXT_PX) {
    svg.style.width = `${Math.ceil(base * (DIAGRAM_MIN_TEXT_PX / smallest))}px`;
  }
}

/** A <text>'s font size as drawn on screen, in CSS px (its size in user units times the zoom onto the page). */
export function textPixels(text) {
  const size = parseFloat(getComputedStyle(text).fontSize);
  const ctm = text.getScreenCTM();
  return ctm ? size * Math.hypot(ctm.a, ctm.b) : size;
}

export function renderProcess(main, name, { settle }) {
  let alive = true;
  const process = meta.process(name);
  if (!process) {
    mount(main, h('h1', {}, 'Process not found'),
      h('p', {}, `There is no process “${name}” that your roles allow. `, h('a', { href: '/' }, 'Back to the records')));
    settle('Not found');
    return () => { alive = false; };
  }
  const entity = meta.entity(process.entity);
  const diagramBox = h('div', { class: 'diagram', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading the diagram…'));
  const funnelBox = h('div', { class: 'funnel-box', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  const entities = [...new Set(process.stages.map((s) => s.entity))].map((e) => meta.entity(e)?.label || e);

  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', {},
      h('li', {}, h('a', { href: '/' }, 'Records')), h('li', {}, 'Processes'),
      h('li', {}, h('span', { 'aria-current': 'page' }, process.label)))),
    h('div', { class: 'page-head' },
      h('div', {}, h('p', { class: 'eyebrow' }, 'Process'), h('h1', {}, process.label),
        h('p', { class: 'muted small' }, `On ${entity?.label || process.entity} · ${process.stages.length} stages`
          + `${entities.length > 1 ? ` across ${entities.join(', ')}` : ''}`
          + `${process.roles.length ? ` · for ${process.roles.join(', ')}` : ''}`)),
      h('a', { class: 'btn', href: `/?entity=${encodeURIComponent(process.entity)}&process=${encodeURIComponent(process.name)}` },
        `Records in this process`)),
    h('div', { class: 'columns process-columns' },
      h('section', { class: 'card', 'aria-labelledby': 'funnel-title' },
        h('h2', { id: 'funnel-title' }, 'Funnel'),
        h('p', { class: 'muted small' }, 'Records standing in each stage now, the share that went on to the next stage, and the time spent in the stage (median and 90th percentile, P90).'),
        funnelBox),
      h('section', { class: 'card', 'aria-labelledby': 'diagram-title' },
        h('h2', { id: 'diagram-title' }, 'Diagram'), diagramBox,
        // Which definition this is matters to whoever maintains the .bpf files, not to its users.
        h('p', { class: 'fine-print' }, 'Definition version ', h('code', {}, process.version)))));
  settle(process.label);

  gql(query(), { name }).then((data) => {
    if (!alive) return;
    checkMe(data.me);
    diagramBox.removeAttribute('aria-busy');
    funnelBox.removeAttribute('aria-busy');
    const svg = data.processDiagram ? cleanSvg(data.processDiagram) : null;
    if (svg) {
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', `Diagram of ${process.label}: ${process.stages.map((s) => s.label).join(', ')}`);
      svg.setAttribute('focusable', 'false');
      mount(diagramBox, svg);
      readable(svg);
    } else {
      mount(diagramBox, h('p', { class: 'muted' }, 'No diagram is available.'));
    }
    mount(funnelBox, funnel(process, data.processAnalytics), outcomes(data.processAnalytics));
  }).catch((error) => {
    if (!alive) return;
    diagramBox.removeAttribute('aria-busy');
    funnelBox.removeAttribute('aria-busy');
    mount(funnelBox, h('p', { class: 'error-box', role: 'alert' }, error.message));
    mount(diagramBox, h('p', { class: 'muted' }, 'No diagram is available.'));
  });
  return () => { alive = false; };
}

/** How many finished with each `finish` outcome, in one line; nothing for a process that names none. */
function outcomes(analytics) {
  const rows = analytics ? analytics.outcomes || [] : [];
  if (!rows.length) return null;
  return h('p', { class: 'outcomes small' }, h('span', { class: 'muted' }, 'Finished with '),
    ...rows.flatMap((r, i) => [i ? ' · ' : null, `${r.outcome.label} `, h('strong', {}, String(r.count))]));
}

/** The funnel as a table (for screen readers and phones) with a drawn bar in each row. */
function funnel(process, analytics) {
  const rows = analytics ? analytics.stages : [];
  if (!rows.length) return h('p', { class: 'muted' }, 'No records have entered this process yet.');
  const most = Math.max(1, ...rows.map((r) => r.count));
  const link = (stage) => `/?entity=${encodeURIComponent(process.entity)}&process=${encodeURIComponent(process.name)}&stage=${encodeURIComponent(stage)}`;
  return h('div', { class: 'funnel-wrap' }, h('table', { class: 'funnel' },
    h('caption', { class: 'sr-only' }, `Funnel of ${process.label}`),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Stage'), h('th', { scope: 'col' }, 'Records now'),
      h('th', { scope: 'col' }, 'To next stage'), h('th', { scope: 'col' }, 'Median time'),
      h('th', { scope: 'col' }, h('abbr', { title: '90th percentile of the time in stage' }, 'P90')))),
    h('tbody', {}, ...rows.map((r, i) => {
      const width = Math.round((r.count / most) * 100);
      const last = i === rows.length - 1;
      return h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: link(r.stage.name) }, r.stage.label)),
        h('td', { 'data-label': 'Records now' }, h('div', { class: 'funnel-count' },
          h('div', { class: 'funnel-bar', 'aria-hidden': 'true' }, h('span', { style: `width: ${Math.max(width, r.count ? 3 : 0)}%` })),
          h('span', { class: 'funnel-number' }, String(r.count)))),
        h('td', { 'data-label': 'To next stage' }, last ? h('span', { class: 'muted' }, '—') : h('span', { class: 'conversion' },
          h('span', { class: 'conversion-bar', 'aria-hidden': 'true' }, h('span', { style: `width: ${Math.round((r.conversionToNext ?? 0) * 100)}%` })),
          percent(r.conversionToNext))),
        h('td', { 'data-label': 'Median time' }, duration(r.medianSeconds)),
        h('td', { 'data-label': 'P90' }, duration(r.p90Seconds)));
    }))));
}
