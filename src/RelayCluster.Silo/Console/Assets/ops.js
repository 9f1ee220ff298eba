// #/routes, #/batches and #/cluster.
import { ApiError, api, attempt, confirmAction, fmt, h } from './core.js';
import { pollBatches, watch } from './live.js';

const STATS_MS = 2000;

// Preset weights are percentages: the target gets `percent`, the others share the rest. A weight of 0 drains a target
// (never picked first, still a fallback), so "100 %" is exact.
const SCALE = 100;

/** Weights giving `target` `percent` % and the others the rest in equal whole parts (0 or more). */
function split(targets, target, percent) {
  const others = targets.filter((t) => t.model !== target);
  const rest = SCALE - percent;
  const weights = { [target]: percent };
  others.forEach((t, i) => { weights[t.model] = Math.floor(rest / others.length) + (i < rest % others.length ? 1 : 0); });
  return weights;
}

export function mountRoutes(view) {
  const list = h('div', {});
  const statsNote = h('p', { class: 'muted' });
  view.append(h('h1', { tabindex: '-1' }, 'Routes'), statsNote, list);
  const statCells = new Map(); // "model|alternative|target" -> td
  let timer = null;
  let stopped = false;

  const pollStats = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        const stats = await api('GET', '/admin/routes/stats');
        statsNote.textContent = `Error rate, latency and breaker per target over the last ${stats.window_seconds} s, every silo, refreshed every 2 s.`;
        for (const s of stats.data) {
          const cell = statCells.get(`${s.model}|${s.alternative}|${s.target}`);
          if (cell) cell.replaceChildren(`${fmt.pct(s.error_rate)} errors of ${fmt.num(s.requests)} · p50 ${fmt.ms(s.p50_ms)} · p99 ${fmt.ms(s.p99_ms)} `,
            h('span', { class: `badge ${s.breaker}` }, s.breaker));
        }
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) { statsNote.textContent = 'Live target statistics are unavailable on this silo.'; return; }
      }
    }
    timer = setTimeout(pollStats, STATS_MS);
  };

  const load = async () => {
    const routes = await attempt(() => api('GET', '/admin/routes'));
    if (!routes) return;
    statCells.clear();
    list.replaceChildren(...(routes.data.length ? routes.data.map(routeCard) : [h('p', { class: 'muted' }, 'No routes.')]));
  };

  const routeCard = (route) => h('section', { class: 'card', 'data-route': route.model, 'aria-label': `Route ${route.model}` },
    h('h2', {}, route.model),
    Object.entries(route.alternatives).map(([name, alt]) => alternative(route, name, alt)),
    shadow(route));

  const alternative = (route, name, alt) => {
    const active = route.active === name;
    const box = h('div', { 'data-alternative': name },
      h('h3', { class: 'row' }, `Alternative ${name} `, active ? h('span', { class: 'badge active' }, 'active')
        : h('button', { type: 'button', class: 'secondary', onclick: async () => {
          if (await confirmAction(`Activate ${name} for ${route.model}? Every silo switches to it within a second.`, 'Activate')
            && await attempt(() => api('POST', `/admin/routes/${encodeURIComponent(route.model)}/activate`, { alternative: name }))) await load();
        } }, `Activate ${name}`)));
    for (const lane of ['targets', 'stream', 'non_stream', 'batch']) {
      if (alt[lane]) box.append(targetsTable(route, name, lane, alt[lane]));
    }
    return box;
  };

  const targetsTable = (route, name, lane, targets) => {
    const inputs = new Map();
    const total = targets.reduce((n, t) => n + (t.weight ?? 0), 0);
    const apply = async (weights) => {
      const sum = Object.values(weights).reduce((n, w) => n + w, 0);
      const text = Object.entries(weights).map(([m, w]) => `${m} ${w} (${Number(((w / sum) * 100).toFixed(3))} %)`).join(', ');
      if (await confirmAction(`Set the weights of ${route.model} ${name}.${lane} to ${text}?`, 'Apply weights')
        && await attempt(() => api('PATCH', `/admin/routes/${encodeURIComponent(route.model)}/weights`, { alternative: name, lane, weights }))) await load();
    };
    const rows = targets.map((t) => {
      const input = h('input', { type: 'number', min: '0', step: '1', class: 'weight', value: t.weight ?? '', 'aria-label': `Weight of ${t.model}` });
      inputs.set(t.model, input);
      const stats = h('td', { class: 'stats' }, '—');
      statCells.set(`${route.model}|${name}|${t.model}`, stats);
      return h('tr', { 'data-target': t.model }, h('th', { scope: 'row' }, t.model), h('td', {}, input),
        h('td', { class: 'num' }, total ? `${Number((((t.weight ?? 0) / total) * 100).toFixed(3))} %` : 'fallback'),
        h('td', {}, targets.length > 1 && h('div', { class: 'row' }, [5, 50, 100].map((p) =>
          h('button', { type: 'button', class: 'secondary', 'aria-label': `${p} % to ${t.model}`, onclick: () => apply(split(targets, t.model, p)) }, `${p} %`)))),
        stats);
    });
    return h('div', { class: 'scroll' }, h('table', { 'data-lane': lane },
      h('caption', { class: 'muted' }, `${lane === 'targets' ? 'Targets' : `${lane} lane`}`),
      h('thead', {}, h('tr', {}, ['Target', 'Weight', 'Share', 'Roll out', 'Last 60 s'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)),
    targets.length > 1 && h('p', {}, h('button', { type: 'button', onclick: () => apply(Object.fromEntries([...inputs].map(([m, i]) => [m, Number(i.value || 0)]))) }, 'Apply weights')));
  };

  const shadow = (route) => {
    const body = h('div', {}, 'Loading…');
    const details = h('details', {}, h('summary', {}, 'Shadow comparisons'), body);
    details.addEventListener('toggle', async () => {
      if (!details.open) return;
      const s = await attempt(() => api('GET', `/admin/routes/${encodeURIComponent(route.model)}/shadow`));
      if (!s) return;
      const a = s.aggregates;
      body.replaceChildren(
        h('p', {}, `${fmt.num(a.compared)} compared (${s.scope}) · ${fmt.num(a.exact_matches)} exact · ${fmt.num(a.status_matches)} same status · `
          + `${fmt.num(a.shadow_failures)} shadow failures · ${fmt.num(a.dropped)} dropped · similarity ${a.mean_similarity.toFixed(3)} · `
          + `latency ${fmt.ms(a.mean_primary_latency_ms)} vs ${fmt.ms(a.mean_shadow_latency_ms)}`),
        s.recent.length ? h('div', { class: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, Object.keys(s.recent[0]).map((k) => h('th', { scope: 'col' }, k)))),
          h('tbody', {}, s.recent.map((r) => h('tr', {}, Object.values(r).map((v) => h('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)))))))) : '');
    });
    return details;
  };

  load().then(pollStats);
  return () => { stopped = true; clearTimeout(timer); };
}

const CANCELLABLE = new Set(['validating', 'in_progress']);

export function mountBatches(view) {
  const tbody = h('tbody', {});
  view.append(h('h1', { tabindex: '-1' }, 'Batches'),
    h('div', { class: 'scroll', role: 'region', 'aria-label': 'Batches table', tabindex: '0' }, h('table', { id: 'batches' },
      h('thead', {}, h('tr', {}, ['Batch', 'Tenant', 'Status', 'Progress', 'Created', ''].map((c, i) => h('th', { scope: 'col', class: i === 4 ? 'wide' : '' }, c)))),
      tbody)));
  const rows = new Map();
  const upsert = (b) => {
    let tr = rows.get(b.id);
    if (!tr) {
      tr = h('tr', { 'data-batch': b.id });
      rows.set(b.id, tr);
      const newer = [...rows.entries()].find(([id, r]) => id !== b.id && r.isConnected && Number(r.dataset.created) < b.created_at);
      tbody.insertBefore(tr, newer ? newer[1] : null);
    }
    tr.dataset.created = b.created_at;
    tr.dataset.tenant = b.tenant;
    const c = b.request_counts ?? { total: 0, completed: 0, failed: 0 };
    const done = c.completed + c.failed;
    tr.replaceChildren(h('th', { scope: 'row', class: 'break' }, b.id), h('td', { class: 'break' }, b.tenant), h('td', { class: 'status break' }, b.status),
      h('td', {}, h('progress', { max: Math.max(c.total, 1), value: done, 'aria-label': `${b.id} progress` }), ` ${done} / ${c.total}`, c.failed ? ` (${c.failed} failed)` : ''),
      h('td', { class: 'wide' }, fmt.time(b.created_at)),
      // Named by its batch, as Rotate/Revoke are by their key: a screen reader's list of buttons is not twenty "Cancel"s.
      h('td', {}, CANCELLABLE.has(b.status) && h('button', { type: 'button', class: 'danger', 'aria-label': `Cancel ${b.id}`, onclick: async () => {
        if (await confirmAction(`Cancel batch ${b.id} of ${b.tenant}? Items not yet started will not run.`, 'Cancel batch')) {
          const r = await attempt(() => api('POST', `/admin/tenants/${encodeURIComponent(b.tenant)}/batches/${encodeURIComponent(b.id)}/cancel`));
          if (r) upsert({ ...r, tenant: b.tenant });
        }
      } }, 'Cancel')));
  };
  return watch({
    hubMethod: 'WatchBatches', unwatchMethod: 'UnwatchBatches', event: 'batches', poll: pollBatches, key: (b) => b.id,
    onRows: (list) => list.forEach(upsert),
    onRemoved: (id) => { rows.get(id)?.remove(); rows.delete(id); },
    // A deleted tenant's batches are gone with it: no further update would ever come for them.
    onTenantRemoved: (tenant) => {
      for (const [id, tr] of rows) if (tr.dataset.tenant === tenant) { tr.remove(); rows.delete(id); }
    },
  });
}

export function mountCluster(view) {
  const body = h('div', {}, 'Loading…');
  const dashboard = h('p', {});
  view.append(h('h1', { tabindex: '-1' }, 'Cluster'), body, h('h2', {}, 'Orleans dashboard'), dashboard);
  (async () => {
    const c = await attempt(() => api('GET', '/admin/cluster'));
    if (c) {
      body.replaceChildren(h('p', {}, `Service ${c.service_id}, cluster ${c.cluster_id}`),
        h('div', { class: 'scroll' }, h('table', { id: 'silos' },
          h('thead', {}, h('tr', {}, [['Silo'], ['Status'], ['Host'], ['Started', 'wide'], ['Last alive', 'wide']].map(([x, cls]) => h('th', { scope: 'col', class: cls }, x)))),
          h('tbody', {}, c.silos.map((s) => h('tr', {}, h('th', { scope: 'row', class: 'break' }, `${s.endpoint}${s.this_silo ? ' (this silo)' : ''}`),
            h('td', {}, h('span', { class: `badge ${s.status === 'active' ? 'ok' : 'paused'}` }, s.status)),
            h('td', { class: 'break' }, s.host_name), h('td', { class: 'wide' }, fmt.time(s.started_at)), h('td', { class: 'wide' }, fmt.time(s.alive_at))))))));
    }
    const res = await fetch('/admin/orleans/', { headers: { authorization: `Bearer ${sessionStorage.getItem('relaycluster.adminKey')}` } }).catch(() => null);
    dashboard.replaceChildren(res?.ok
      ? h('span', {}, h('a', { href: '/admin/orleans/', target: '_blank', rel: 'noopener' }, 'Open the Orleans dashboard'),
        ' (new tab; the browser asks for the admin key as the password)')
      : h('span', { class: 'muted' }, 'The Orleans dashboard is off on this silo (Relay:Orleans:Dashboard=true turns it on).'));
  })();
  return () => {};
}
