// Deletes that stay deleted, in the cluster: silos that start after an admin deleted a configured tenant or
// revoked a configured key (a restart, a redeploy, a scale-out: the same configuration file) must not seed them
// again, and a tenant created again with a deleted id must find none of the deleted tenant's data on any silo.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from './cluster-harness.mjs';

const TENANTS = {
  doomed: { key: 'sk-cluster-doomed-7f3a9c2e5b1d', MonthlyBudgetUsd: '5' },
  keeper: { key: 'sk-cluster-keeper-a-7f3a9c2e5b1d' },
};

let cluster;
before(async () => {
  // keeper gets a second configured key: the harness configures one key a tenant.
  cluster = await startCluster({ silos: 2, tenants: TENANTS, env: { 'Relay__Tenants__keeper__Keys__1': 'sk-cluster-keeper-b-7f3a9c2e6c2e' } });
});
after(() => cluster?.stop());

const show = (r) => `HTTP ${r.status} ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}`;

async function expect(silo, method, pathname, status, { key, body } = {}) {
  const r = await silo.request(method, pathname, { key, body });
  assert.equal(r.status, status, `${method} ${pathname} on ${silo.label}: ${show(r)}`);
  return r.body;
}

/** A key as admins see it: its first 6 and last 4 characters. */
const redacted = (key) => `${key.slice(0, 6)}****${key.slice(-4)}`;

const chat = (silo, key) => silo.chat(key, { model: 'remote-fast', max_tokens: 4, messages: [{ role: 'user', content: 'hello' }] });

async function upload(silo, key) {
  const form = new FormData();
  form.append('purpose', 'user_data');
  form.append('file', new Blob(['kept by the doomed tenant\n']), 'doomed.txt');
  const res = await fetch(`${silo.origin}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
  assert.equal(res.status, 200, `upload on ${silo.label}: ${await res.clone().text()}`);
  return (await res.json()).id;
}

describe('deletes across restarts and scale-out', () => {
  test('a deleted configured tenant and a revoked configured key stay deleted on silos started later', async () => {
    const [silo1, silo2] = cluster.silos;
    assert.equal((await chat(silo1, TENANTS.doomed.key)).status, 200);
    const fileId = await upload(silo2, TENANTS.doomed.key);
    assert.ok((await silo1.quota('doomed')).spent_nanos > 0, 'the doomed tenant spent something');

    await expect(silo1, 'DELETE', '/admin/tenants/doomed', 200);
    const keeper = await expect(silo2, 'GET', '/admin/tenants/keeper', 200);
    const keyA = keeper.keys.find((k) => k.prefix === redacted(TENANTS.keeper.key));
    assert.ok(keyA, `keeper's key a among ${JSON.stringify(keeper.keys)}`);
    await expect(silo2, 'DELETE', `/admin/tenants/keeper/keys/${keyA.id}`, 200);

    // Every silo restarts with the same configuration (a redeploy); each new process would re-seed if it could.
    for (const index of [0, 1]) {
      const silo = await cluster.restartSilo(index);
      await expect(silo, 'GET', '/admin/tenants/doomed', 404);
      assert.equal((await chat(silo, TENANTS.doomed.key)).status, 401, `doomed's key on ${silo.label}`);
      assert.equal((await chat(silo, TENANTS.keeper.key)).status, 401, `keeper's revoked key on ${silo.label}`);
      assert.equal((await chat(silo, 'sk-cluster-keeper-b-7f3a9c2e6c2e')).status, 200, `keeper's other key on ${silo.label}`);
    }

    // Only an explicit create brings the id back: a new tenant, with none of the old one's data or spend.
    const [again1, again2] = cluster.silos;
    const created = await expect(again1, 'POST', '/admin/tenants', 201, { body: { id: 'doomed' } });
    const key = created.key.key;
    assert.equal((await chat(again2, TENANTS.doomed.key)).status, 401, 'the deleted tenant\'s key stays dead');
    // Fresh windows, read before the file calls below (they count against the new tenant's RPM, never its tokens).
    assert.equal((await again1.quota('doomed')).requests_in_window, 0, 'window of the re-created tenant');
    for (const silo of [again1, again2]) {
      await expect(silo, 'GET', `/v1/files/${fileId}`, 404, { key });
      assert.deepEqual((await expect(silo, 'GET', '/v1/files', 200, { key })).data, []);
      const quota = await silo.quota('doomed');
      assert.equal(quota.spent_nanos, 0, `spend on ${silo.label}`);
      assert.equal(quota.tokens_in_window, 0, `window on ${silo.label}`);
      assert.equal((await silo.usage('doomed')).requests, 0, `usage on ${silo.label}`);
    }
    assert.equal((await chat(again2, key)).status, 200);
  });
});
