// Routes across a 3-silo cluster on one Redis: a route change, a weight change and a flag switch made
// through one silo are in force on every silo within 1 s (the store publishes each write on Redis
// pub/sub and every silo reloads its route table), and admin changes survive a silo restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster-harness.mjs';

const KEY = 'sk-cluster-routes-7f3a9c2e5b1d';
const PROPAGATION_MS = 1_000;
const model = (name) => ({ [`Relay__Models__${name}__Provider`]: 'mock', [`Relay__Models__${name}__UpstreamModel`]: 'mock-fast' });

let cluster;
before(async () => {
  cluster = await startCluster({
    silos: 3,
    tenants: { routes: { key: KEY } },
    env: {
      ...model('blue'),
      ...model('green'),
      Relay__Tenants__routes__Models__0: '*',
      // The configured route: seeds the store once.
      Relay__Routes__app__Targets__0__Model: 'blue',
    },
  });
});
after(() => cluster?.stop());

/** The target model a chat for `app` is served by on `silo` (the x-relay-model header), with the provider header checked. */
async function servedBy(silo, route = 'app') {
  const r = await silo.chat(KEY, { model: route, max_tokens: 2, messages: [{ role: 'user', content: 'hi [[sim tokens=2]]' }] });
  assert.equal(r.status, 200, `${silo.label}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.headers.get('x-relay-provider'), 'mock');
  assert.equal(r.headers.get('x-relay-attempts'), '1');
  return r.headers.get('x-relay-model');
}

/** Waits until every silo serves `expected`, failing if any takes longer than PROPAGATION_MS after `since`. */
async function everySiloServes(expected, since, what) {
  await Promise.all(cluster.silos.map((silo) => waitFor(async () => (await servedBy(silo)) === expected, {
    timeoutMs: PROPAGATION_MS, intervalMs: 20, what: `${silo.label} to serve ${expected} after ${what}`,
  })));
  const elapsed = Date.now() - since;
  assert.ok(elapsed <= PROPAGATION_MS + 250, `${what} took ${elapsed} ms to reach every silo`);
}

async function admin(silo, method, pathname, body) {
  const r = await silo.request(method, pathname, { body });
  assert.equal(r.status, 200, `${method} ${pathname} on ${silo.label}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

describe('routes across silos', () => {
  test('the configured route serves on every silo', async () => {
    for (const silo of cluster.silos) assert.equal(await servedBy(silo), 'blue');
    const routes = await admin(cluster.silos[2], 'GET', '/admin/routes');
    assert.deepEqual(routes.data.map((r) => r.model), ['app']);
  });

  test('a route changed on silo1 applies on every silo within 1 s', async () => {
    const since = Date.now();
    await admin(cluster.silos[0], 'PUT', '/admin/routes/app', {
      active: 'green',
      alternatives: {
        green: { targets: [{ model: 'green', weight: 1 }, { model: 'blue', weight: 1 }] },
        blue: { targets: [{ model: 'blue' }] },
      },
    });
    // Make the split decisive so every request shows the change: blue drained (weight 0, still green's fallback).
    await admin(cluster.silos[0], 'PATCH', '/admin/routes/app/weights', { weights: { green: 1, blue: 0 } });
    await everySiloServes('green', since, 'PUT + PATCH on silo1');
  });

  test('weights changed on silo2 apply on every silo within 1 s', async () => {
    const since = Date.now();
    await admin(cluster.silos[1], 'PATCH', '/admin/routes/app/weights', { weights: { green: 0, blue: 1 } });
    await everySiloServes('blue', since, 'PATCH on silo2');
  });

  test('a flag switch (rollback) on silo3 applies on every silo within 1 s, and back again', async () => {
    let since = Date.now();
    await admin(cluster.silos[2], 'PATCH', '/admin/routes/app/weights', { weights: { green: 1, blue: 0 } });
    await everySiloServes('green', since, 'PATCH on silo3');
    since = Date.now();
    await admin(cluster.silos[2], 'POST', '/admin/routes/app/activate', { alternative: 'blue' });
    await everySiloServes('blue', since, 'activate blue on silo3');
    since = Date.now();
    await admin(cluster.silos[0], 'POST', '/admin/routes/app/activate', { alternative: 'green' });
    await everySiloServes('green', since, 'activate green on silo1');
  });

  test('an invalid change is refused with a 400 envelope and changes nothing', async () => {
    const r = await cluster.silos[1].request('PUT', '/admin/routes/app', { body: { targets: [{ model: 'nope' }] } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'invalid_value');
    for (const silo of cluster.silos) assert.equal(await servedBy(silo), 'green');
  });

  test('admin changes survive a silo restart (configuration seeds only once)', async () => {
    const silo = await cluster.restartSilo(1);
    assert.equal(await servedBy(silo), 'green');
    const route = await admin(silo, 'GET', '/admin/routes/app');
    assert.equal(route.active, 'green');
  });

  test('delete goes back to the configured route on every silo within 1 s', async () => {
    const since = Date.now();
    await admin(cluster.silos[0], 'DELETE', '/admin/routes/app');
    await everySiloServes('blue', since, 'DELETE on silo1');
    const route = await admin(cluster.silos[2], 'GET', '/admin/routes/app');
    assert.equal(route.active, 'default');
  });

  test('shadow comparisons made on every silo are visible, all together, through any silo', async () => {
    // A new route: its comparisons start from nothing, and every request sent to it (100 %) is shadowed once.
    let sent = 0;
    const shadowed = async (silo) => {
      const served = await servedBy(silo, 'shadowed'); // throws (and is not counted) until the silo has the route
      sent++;
      return served;
    };
    await admin(cluster.silos[0], 'PUT', '/admin/routes/shadowed', { targets: [{ model: 'blue' }], shadow: { model: 'green', percent: 100 } });
    await Promise.all(cluster.silos.map((silo) => waitFor(async () => (await shadowed(silo)) === 'blue',
      { timeoutMs: PROPAGATION_MS, intervalMs: 20, what: `${silo.label} to serve the shadowed route` })));
    for (const silo of cluster.silos) {
      for (let i = 0; i < 2; i++) await shadowed(silo);
    }

    const view = await waitFor(async () => {
      const v = await admin(cluster.silos[1], 'GET', '/admin/routes/shadowed/shadow');
      return v.aggregates.compared >= sent ? v : false;
    }, { what: `all ${sent} shadow comparisons to be recorded` });
    assert.equal(view.scope, 'cluster');
    assert.equal(view.aggregates.compared, sent, 'each shadowed request compared once, whichever silo served it');
    assert.equal(view.aggregates.dropped, 0);
    assert.ok(view.recent.length > 0 && view.recent.every((c) => c.primary_model === 'blue' && c.shadow_model === 'green'));
    assert.deepEqual(view, await admin(cluster.silos[2], 'GET', '/admin/routes/shadowed/shadow'), 'every silo shows the same view');
  });

  test('a route created on silo1 is in models.list and models.retrieve on every silo within 1 s (issue 13)', async () => {
    const since = Date.now();
    await admin(cluster.silos[0], 'PUT', '/admin/routes/fresh', { targets: [{ model: 'green' }] });
    await Promise.all(cluster.silos.map((silo) => waitFor(async () => {
      const ids = [];
      for await (const m of silo.client(KEY).models.list()) ids.push(m.id);
      return ids.includes('fresh');
    }, { timeoutMs: PROPAGATION_MS, intervalMs: 20, what: `${silo.label} to list the new route` })));
    assert.ok(Date.now() - since <= PROPAGATION_MS + 250);
    for (const silo of cluster.silos) {
      const model = await silo.client(KEY).models.retrieve('fresh');
      assert.deepEqual([model.id, model.object], ['fresh', 'model']);
      assert.equal(await servedBy(silo, 'fresh'), 'green', 'listed means callable');
    }
    await admin(cluster.silos[2], 'DELETE', '/admin/routes/fresh');
    await Promise.all(cluster.silos.map((silo) => waitFor(async () => {
      try {
        await silo.client(KEY).models.retrieve('fresh');
        return false;
      } catch (err) {
        return err.status === 404;
      }
    }, { timeoutMs: PROPAGATION_MS, intervalMs: 20, what: `${silo.label} to forget the deleted route` })));
  });

  test('provider health is visible to admins', async () => {
    const health = await admin(cluster.silos[0], 'GET', '/admin/providers/health');
    const mock = health.data.find((p) => p.provider_id === 'mock');
    assert.equal(mock.circuit, 'closed');
    assert.ok(mock.requests > 0);
  });
});
