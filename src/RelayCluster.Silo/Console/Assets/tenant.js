// #/tenants/{id}: one tenant's keys, limits, budget and thresholds, pause/resume, usage by day and by model as
// charts, and its latest requests from the ledger.
import { ApiError, api, attempt, barChart, confirmAction, fmt, h } from './core.js';
import { budgetCell, stateBadge } from './tenants.js';
import { tenantRow } from './live.js';

const LIMITS = [
  ['requests_per_minute', 'Requests per minute', 'unlimited'],
  ['tokens_per_minute', 'Tokens per minute', 'unlimited'],
  ['max_concurrent', 'Max concurrent requests', 'unlimited'],
  ['monthly_budget_usd', 'Monthly budget (USD)', 'unlimited'],
];

export function mount(view, id) {
  const base = `/admin/tenants/${encodeURIComponent(id)}`;
  const month = new Date().toISOString().slice(0, 7);
  const summary = h('div', { class: 'card' });
  const keys = h('div', {});
  const newKey = h('div', {});
  const limits = h('form', { id: 'limits' });
  const usage = h('div', {});
  const requests = h('div', {});
  view.append(
    h('p', {}, h('a', { href: '#/tenants' }, '← All tenants')),
    h('h1', { tabindex: '-1' }, `Tenant ${id}`), summary,
    h('h2', {}, 'Keys'), newKey, keys,
    h('h2', {}, 'Limits, budget and thresholds'), limits,
    h('h2', {}, `Usage in ${month}`), usage,
    h('h2', {}, 'Recent requests'), requests);

  const load = async () => {
    const t = await attempt(() => api('GET', base));
    if (!t) return;
    const row = tenantRow(t);
    summary.replaceChildren(
      h('p', { class: 'row' }, stateBadge(row),
        h('button', { type: 'button', id: 'pause-toggle', class: t.paused ? '' : 'danger', onclick: async () => {
          const verb = t.paused ? 'resume' : 'pause';
          if (await confirmAction(`${t.paused ? 'Resume' : 'Pause'} tenant ${id}?`, t.paused ? 'Resume' : 'Pause')
            && await attempt(() => api('POST', `${base}/${verb}`))) await load();
        } }, t.paused ? 'Resume' : 'Pause')),
      h('p', {}, `Requests in window ${fmt.num(row.requests_in_window)} · tokens ${fmt.num(row.tokens_in_window)} · in flight ${fmt.num(row.in_flight)}`),
      budgetCell(row));
    // On a phone the creation time gives way (.wide) and a key id may break anywhere, so the buttons stay in view.
    keys.replaceChildren(h('div', { class: 'scroll', role: 'region', 'aria-label': 'Keys', tabindex: '0' }, h('table', { id: 'keys' },
      h('thead', {}, h('tr', {}, ['Key', 'Prefix', 'Created', 'Actions'].map((c) => h('th', { scope: 'col', class: c === 'Created' ? 'wide' : '' }, c)))),
      h('tbody', {}, t.keys.map((k) => h('tr', {}, h('th', { scope: 'row', class: 'break' }, k.id), h('td', { class: 'break' }, k.prefix), h('td', { class: 'wide' }, fmt.time(k.created_at)),
        h('td', {}, h('div', { class: 'row' },
          h('button', { type: 'button', class: 'secondary', 'aria-label': `Rotate ${k.id}`, onclick: () => keyAction('rotate', k.id) }, 'Rotate'),
          h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${k.id}`, onclick: () => keyAction('revoke', k.id) }, 'Revoke'))))))),
    ), h('p', {}, h('button', { type: 'button', id: 'add-key', onclick: () => keyAction('add') }, 'Create key')));
    renderLimits(t);
  };

  const showNewKey = (created) => {
    const copy = h('button', { type: 'button', class: 'secondary', onclick: async () => {
      try { await navigator.clipboard.writeText(created.key); copy.textContent = 'Copied'; } catch { copy.textContent = 'Select the key and copy it'; }
    } }, 'Copy');
    newKey.replaceChildren(h('div', { class: 'newkey', id: 'new-key' },
      h('p', {}, h('strong', {}, 'New key (shown only now): '), h('code', {}, created.key)), copy));
    copy.focus();
  };

  const keyAction = async (kind, keyId) => {
    if (kind === 'add') {
      const created = await attempt(() => api('POST', `${base}/keys`));
      if (created) showNewKey(created);
    } else if (kind === 'rotate') {
      if (!await confirmAction(`Rotate ${keyId}? The old key stops working at once.`, 'Rotate')) return;
      const created = await attempt(() => api('POST', `${base}/keys/${encodeURIComponent(keyId)}/rotate`));
      if (created) showNewKey(created);
    } else {
      if (!await confirmAction(`Revoke ${keyId}? It stops working at once.`, 'Revoke')) return;
      if (!await attempt(() => api('DELETE', `${base}/keys/${encodeURIComponent(keyId)}`))) return;
      newKey.replaceChildren();
    }
    await load();
  };

  const renderLimits = (t) => {
    const field = (name, label, value, placeholder, step) => h('div', {}, h('label', { for: `f-${name}` }, label),
      h('input', { id: `f-${name}`, name, type: 'number', min: '0', step, value: value ?? '', placeholder }));
    const pct = (v) => (v === null || v === undefined ? '' : String(Math.round(v * 1000) / 10));
    limits.replaceChildren(
      h('div', { class: 'fields' },
        LIMITS.map(([name, label, ph]) => field(name, label, t.quota.limits[name], ph, name === 'monthly_budget_usd' ? 'any' : '1')),
        field('alert_threshold', 'Alert at (% of budget)', t.alerts.alert_threshold_default ? null : pct(t.alerts.alert_threshold), `default ${pct(t.alerts.alert_threshold)}`, 'any'),
        field('pause_threshold', 'Pause at (% of budget)', t.alerts.pause_threshold_default ? null : pct(t.alerts.pause_threshold), `default ${pct(t.alerts.pause_threshold)}`, 'any')),
      h('p', { class: 'hint' }, 'Empty means unlimited (thresholds: the relay default); 0 turns a threshold off.'),
      h('button', { type: 'submit' }, 'Save limits'));
  };

  limits.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {};
    for (const input of limits.querySelectorAll('input')) {
      const v = input.value.trim();
      const n = v === '' ? null : Number(v);
      body[input.name] = n !== null && input.name.endsWith('_threshold') ? n / 100 : n;
    }
    if (await attempt(() => api('PATCH', base, body))) await load();
  });

  const loadUsage = async () => {
    const summaryByModel = await attempt(() => api('GET', `${base}/usage?month=${month}`));
    const parts = [];
    try {
      const daily = await api('GET', `${base}/usage/daily?month=${month}`);
      parts.push(barChart('Cost by day (USD)', daily.data.map((d) => d.date.slice(8)), daily.data.map((d) => d.cost_usd), fmt.usd));
    } catch (err) {
      parts.push(h('p', { class: 'notice' }, err instanceof ApiError && err.status === 404 ? 'Usage by day is unavailable on this silo.' : `Usage by day: ${err.message}`));
    }
    if (summaryByModel) {
      const models = Object.entries(summaryByModel.by_model ?? {});
      parts.push(models.length
        ? barChart('Cost by model (USD)', models.map(([m]) => m), models.map(([, u]) => u.cost_nanos / 1e9), fmt.usd)
        : h('p', { class: 'muted' }, 'No usage this month.'));
    }
    usage.replaceChildren(...parts);
    try {
      const recent = await api('GET', `${base}/requests?limit=50`);
      requests.replaceChildren(h('div', { class: 'scroll', role: 'region', 'aria-label': 'Recent requests', tabindex: '0' }, h('table', {},
        // On a phone: time, model, status and cost (.wide columns give way).
        h('thead', {}, h('tr', {}, [['Time'], ['Model'], ['Status'], ['Tokens in/out', 'wide'], ['Cost'], ['Latency', 'wide'], ['Ending', 'wide']]
          .map(([c, cls]) => h('th', { scope: 'col', class: cls }, c)))),
        h('tbody', {}, recent.data.map((r) => h('tr', {},
          h('td', {}, fmt.time(Math.floor(r.ts / 1000))), h('td', { class: 'break' }, r.model), h('td', {}, r.status),
          h('td', { class: 'num wide' }, `${fmt.num(r.prompt_tokens)} / ${fmt.num(r.completion_tokens)}`),
          h('td', { class: 'num' }, fmt.usd(r.cost_usd)), h('td', { class: 'num wide' }, fmt.ms(r.latency_ms)), h('td', { class: 'wide' }, r.ending)))))));
    } catch (err) {
      requests.replaceChildren(h('p', { class: 'notice' }, err instanceof ApiError && err.status === 404 ? 'Recent requests are unavailable on this silo.' : err.message));
    }
  };

  load();
  loadUsage();
  return () => {};
}
