// The admin hub's live feed across silos (issue 15): an admin connected to silo A watches tenants, and sees a tenant
// whose grain runs on silo B (GET /admin/tenants/{id}/grain names it) change as requests are served and as it is paused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectHub, startCluster, waitFor } from './cluster-harness.mjs';

const TENANTS = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`live${i}`, { key: `sk-cluster-live-${i}-8c1f4a7e2d` }]));

let cluster;
before(async () => {
  cluster = await startCluster({ silos: 2, tenants: TENANTS });
});
after(async () => {
  await cluster?.stop();
});

test('an admin on silo A sees a tenant whose grain runs on silo B change', async () => {
  // Silo B runs the tenant's grain (wherever Orleans placed it); the admin connects to the other one.
  const tenant = 'live0';
  const siloB = await cluster.tenantGrainHost(tenant, cluster.silos[0]);
  assert.ok(siloB, 'GET /admin/tenants/{id}/grain names a silo');
  const siloA = cluster.silos.find((s) => s.origin !== siloB.origin);
  assert.notEqual((await cluster.tenantGrainHost(tenant, siloA)).origin, siloA.origin);

  const issued = await siloA.request('POST', '/admin/console/token');
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  const hub = await connectHub(`${siloA.origin}/hubs/admin`, issued.body.token);
  try {
    const rows = new Map();
    const keep = (row) => {
      const current = rows.get(row.id);
      if (!current || current.updated_at <= row.updated_at) rows.set(row.id, row);
    };
    hub.on('tenants', (changed) => changed.forEach(keep));
    (await hub.invoke('WatchTenants')).forEach(keep);
    assert.equal(rows.size, Object.keys(TENANTS).length);
    const before = rows.get(tenant);

    // Served through silo A too: the request's silo, the grain's silo and the watcher's silo need not be one.
    for (let i = 0; i < 3; i++) {
      const res = await siloA.chat(TENANTS[tenant].key, {
        model: 'remote-fast', max_tokens: 4, messages: [{ role: 'user', content: `live ${i}` }],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const quota = await waitFor(async () => {
      const q = await siloB.quota(tenant);
      return q.in_flight === 0 && q.reserved_nanos === 0 ? q : null;
    }, { timeoutMs: 10_000, what: 'the tenant idle' });

    await waitFor(() => {
      const row = rows.get(tenant);
      return row.spent_usd === quota.spent_usd && row.requests_in_window === quota.requests_in_window && row.in_flight === 0;
    }, { timeoutMs: 10_000, what: `a pushed row at the quota's spend (${quota.spent_usd})` });
    assert.equal(rows.get(tenant).requests_in_window, before.requests_in_window + 3);
    assert.ok(rows.get(tenant).spent_usd > before.spent_usd);

    const paused = await siloB.request('POST', `/admin/tenants/${tenant}/pause`);
    assert.equal(paused.status, 200);
    await waitFor(() => rows.get(tenant).paused && rows.get(tenant).paused_by === 'admin', { timeoutMs: 10_000, what: 'the pause pushed' });
  } finally {
    await hub.stop();
  }
});
