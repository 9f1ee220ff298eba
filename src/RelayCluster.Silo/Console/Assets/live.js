// Live feeds: the admin hub /hubs/admin when this silo has it (WatchTenants/"tenants", WatchBatches/"batches", and
// "tenantsRemoved" for both), with a token from POST /admin/console/token fetched again on every (re)connect. A silo
// without the hub (404 on the token) gets a clearly labelled fallback: polling every 2 s, only while a view watches.
import { api, ApiError } from './core.js';

const POLL_MS = 2000;
let hub = null; // { connection, ready: Promise<boolean> }
let setStatus = () => {};

export function onLiveStatus(handler) { setStatus = handler; }

async function connectHub() {
  if (hub) return hub.ready;
  const signalR = globalThis.signalR;
  const connection = signalR && new signalR.HubConnectionBuilder()
    .withUrl('/hubs/admin', { accessTokenFactory: async () => (await api('POST', '/admin/console/token')).token })
    .withAutomaticReconnect()
    .configureLogging(signalR.LogLevel.None)
    .build();
  hub = { connection, watchers: new Set() };
  hub.ready = (async () => {
    try {
      await api('POST', '/admin/console/token'); // 404: this silo has no admin hub
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) { setStatus('Live updates unavailable on this silo: polling every 2 s'); return false; }
      throw err;
    }
    if (!connection) return false;
    connection.onreconnecting(() => setStatus('Live updates: reconnecting…'));
    connection.onreconnected(() => { setStatus('Live'); for (const w of hub.watchers) w(); }); // subscriptions died with the old connection
    connection.onclose(() => setStatus('Live updates disconnected: reload to reconnect'));
    await connection.start();
    setStatus('Live');
    return true;
  })();
  return hub.ready;
}

export async function stopLive() {
  const current = hub;
  hub = null;
  if (current?.connection) await current.connection.stop().catch(() => {});
}

/**
 * Watches one feed. `hubMethod`/`event` for the hub; `poll()` returns the full list for the fallback; `key(row)`
 * identifies a row. `onRows(rows, full)` receives changed rows (full = a complete snapshot), `onRemoved(key)` a row
 * gone from the poll, `onTenantRemoved(id)` each tenant the hub says was deleted (its rows are gone with it).
 * Returns stop().
 */
export function watch({ hubMethod, unwatchMethod, event, poll, key, onRows, onRemoved, onTenantRemoved }) {
  let stopped = false;
  let timer = null;
  const seen = new Map(); // id -> JSON of the last row shown, so polling hands on only what changed
  const subscribe = async () => onRows(await hub.connection.invoke(hubMethod), true);
  const handleRows = (rows) => onRows(rows, false);
  const handleRemoved = (ids) => ids.forEach((id) => onTenantRemoved(id));

  (async () => {
    if (await connectHub().catch(() => false)) {
      if (stopped) return;
      hub.connection.on(event, handleRows);
      hub.connection.on('tenantsRemoved', handleRemoved);
      hub.watchers.add(subscribe);
      await subscribe();
      return;
    }
    const tick = async () => {
      if (stopped) return;
      try {
        const rows = await poll();
        const changed = rows.filter((r) => seen.get(key(r)) !== JSON.stringify(r));
        const ids = new Set(rows.map(key));
        for (const id of [...seen.keys()]) if (!ids.has(id)) { seen.delete(id); onRemoved?.(id); }
        for (const r of changed) seen.set(key(r), JSON.stringify(r));
        if (changed.length) onRows(changed, false);
      } catch { /* the next tick tries again; a 401 has signed out already */ }
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    await tick();
  })();

  return () => {
    stopped = true;
    clearTimeout(timer);
    if (hub?.connection && hub.watchers.delete(subscribe)) {
      hub.connection.off(event, handleRows);
      hub.connection.off('tenantsRemoved', handleRemoved);
      hub.connection.invoke(unwatchMethod).catch(() => {});
    }
  };
}

/** A tenant of GET /admin/tenants in the hub's TenantRow shape, so the table has one input whichever feed runs. */
export function tenantRow(t) {
  const q = t.quota;
  return {
    id: t.id, paused: t.paused, paused_by: t.alerts?.paused_by ?? null, month: q.month, limits: q.limits,
    requests_in_window: q.requests_in_window, tokens_in_window: q.tokens_in_window, in_flight: q.in_flight,
    reserved_usd: q.reserved_usd, spent_usd: q.spent_usd,
    alert_threshold: t.alerts?.alert_threshold ?? null, pause_threshold: t.alerts?.pause_threshold ?? null,
  };
}

export const pollTenants = async () => (await api('GET', '/admin/tenants')).data.map(tenantRow);

/** Every tenant's batches: GET /admin/batches, or on a silo without it each tenant's own list. */
export async function pollBatches() {
  try {
    return (await api('GET', '/admin/batches?limit=100')).data;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const tenants = (await api('GET', '/admin/tenants')).data.map((t) => t.id);
  const lists = await Promise.all(tenants.map(async (id) =>
    (await api('GET', `/admin/tenants/${encodeURIComponent(id)}/batches?limit=100`)).data.map((b) => ({ ...b, tenant: id }))));
  return lists.flat().sort((a, b) => b.created_at - a.created_at);
}
