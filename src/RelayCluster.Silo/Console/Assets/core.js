// Shared by every view: the admin key session, the API client, a tiny element builder, formatting, the error
// region (the page's only aria-live region: errors are announced, live ticks are not) and the confirm dialog.
const KEY = 'relaycluster.adminKey';

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** An error answered by the relay: `status` and the OpenAI envelope's `message`/`code`. */
export class ApiError extends Error {
  constructor(status, message, code) { super(message); this.status = status; this.code = code; }
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) { onUnauthorized = handler; }

/**
 * Calls the admin API with the key as a bearer header (never in a URL). Returns the parsed JSON body; throws an
 * ApiError with the envelope's message on a non-2xx (a 401 also signs out: the key stopped working).
 */
export async function api(method, path, body, key = session.key) {
  const headers = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) {
    const error = new ApiError(res.status, json?.error?.message ?? `HTTP ${res.status}`, json?.error?.code);
    if (res.status === 401 && key === session.key) onUnauthorized(error);
    throw error;
  }
  return json;
}

/** h('td', { class: 'num' }, 'text', child…): attributes set as attributes, `on*` functions as listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = tag === 'svg' || attrs.svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'svg' || value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const fmt = {
  usd: (v) => (v === null || v === undefined ? '—' : `$${Number(v).toFixed(Math.abs(v) >= 1 ? 2 : 6)}`),
  num: (v) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US')),
  limit: (v) => (v === null || v === undefined ? '∞' : Number(v).toLocaleString('en-US')),
  pct: (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`),
  ms: (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`),
  time: (unixSeconds) => (unixSeconds ? new Date(unixSeconds * 1000).toISOString().replace('T', ' ').slice(0, 19) : '—'),
};

/** Shows an error in the alert region (announced by screen readers); null hides it. */
export function showError(message) {
  const region = document.getElementById('error');
  region.textContent = message ?? '';
  region.hidden = !message;
}

/** Runs an admin action, showing its failure in the error region; returns its result or undefined. */
export async function attempt(action) {
  try {
    showError(null);
    return await action();
  } catch (err) {
    showError(err instanceof ApiError ? `${err.message} (HTTP ${err.status})` : String(err.message ?? err));
    return undefined;
  }
}

/** A modal confirmation (a native dialog: focus stays inside, Escape cancels). Resolves true on Confirm. */
export function confirmAction(text, confirmLabel = 'Confirm') {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = confirmLabel;
  dialog.returnValue = '';
  dialog.showModal();
  document.getElementById('confirm-ok').focus();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}

/** A bar chart drawn as inline SVG, with the same numbers as a table for screen readers (and anyone who wants them). */
export function barChart(title, labels, values, format) {
  const max = Math.max(...values, 0);
  const width = Math.max(labels.length * 24, 240);
  const svg = h('svg', { class: 'chart', viewBox: `0 0 ${width} 120`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' });
  values.forEach((v, i) => {
    const height = max > 0 ? (v / max) * 100 : 0;
    svg.append(h('rect', { svg: true, x: i * (width / labels.length) + 2, y: 105 - height, width: Math.max(width / labels.length - 4, 1), height }));
    svg.append(h('title', { svg: true }, `${labels[i]}: ${format(v)}`));
  });
  const table = h('table', {}, h('caption', { class: 'muted' }, title),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Label'), h('th', { scope: 'col', class: 'num' }, 'Value'))),
    h('tbody', {}, labels.map((l, i) => h('tr', {}, h('th', { scope: 'row' }, l), h('td', { class: 'num' }, format(values[i]))))));
  return h('figure', {}, h('figcaption', {}, `${title} (largest: ${format(max)})`), svg, h('details', {}, h('summary', {}, 'Show as a table'), table));
}
