// Issue 12 review: a tenant deleted while the silo hosting its running batch's grain has just died (SIGKILL), then
// re-created with the same id. Whatever the delete answered, nothing of the old tenant's batch may reach the new
// tenant: no spend, no usage, no files, no batch; and the old batch must stop calling the upstream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { ADMIN_KEY, startCluster, waitFor } from './cluster-harness.mjs';
import { chatLine, mockCalls, uploadLines, FAILURE_ENV } from './batch-helpers.mjs';

const MODEL = 'remote-fast';

let cluster;
before(async () => {
  cluster = await startCluster({
    silos: 3,
    env: FAILURE_ENV,
  });
});
after(() => cluster?.stop());

async function admin(silo, method, pathname, body) {
  const res = await fetch(silo.origin + pathname, {
    method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

describe('a tenant deleted as its batch grain host dies', () => {
  test('re-created with the same id: the old batch never reaches the new tenant', async (t) => {
    const [creator] = cluster.silos;
    const made = await admin(creator, 'POST', '/admin/tenants', { id: 'lazarus' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const old = new OpenAI({ apiKey: made.body.key.key, baseURL: creator.baseURL, maxRetries: 0, timeout: 20_000 });
    const lines = Array.from({ length: 3000 }, (_, i) => chatLine(`l-${i}`, MODEL, `row ${i} [[sim ttft=300 tokens=3]]`));
    const input = await uploadLines(old, lines, 'lazarus.jsonl');
    const created = await old.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await old.batches.retrieve(created.id)).request_counts.completed >= 100,
      { timeoutMs: 60_000, intervalMs: 50, what: '100 items completed' });
    const host = await cluster.batchGrainHost('lazarus', created.id, creator);
    const via = cluster.silos.find((s) => s !== host);
    await host.kill();
    const deleted = await admin(via, 'DELETE', '/admin/tenants/lazarus');
    t.diagnostic(`killed ${host.label} (the batch grain's host); DELETE through ${via.label}: ${deleted.status} ${JSON.stringify(deleted.body).slice(0, 200)}`);
    let retried = null;
    if (deleted.status !== 200) retried = await admin(via, 'DELETE', '/admin/tenants/lazarus');
    if (retried) t.diagnostic(`DELETE again: ${retried.status} ${JSON.stringify(retried.body).slice(0, 200)}`);

    // An operator retries the create until it succeeds; every answer on the way must be a clean one (no 500).
    const answers = [];
    const again = await waitFor(async () => {
      const r = await admin(via, 'POST', '/admin/tenants', { id: 'lazarus' });
      answers.push(r.status);
      return r.status === 201 ? r : false;
    }, { timeoutMs: 90_000, intervalMs: 1_000, what: 'the re-create to succeed' });
    t.diagnostic(`re-create answers: ${answers.join(',')}`);
    const fresh = new OpenAI({ apiKey: again.body.key.key, baseURL: via.baseURL, maxRetries: 0, timeout: 20_000 });

    // Long enough for the old batch to be revived by its chunks or its reminder and to run on, if it survived.
    const calls0 = await mockCalls(cluster.mockOrigin);
    const deadline = Date.now() + 20_000;
    let quota = null;
    while (Date.now() < deadline) {
      quota = await via.quota('lazarus');
      if (quota.spent_nanos > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const calls = (await mockCalls(cluster.mockOrigin)) - calls0;
    const files = (await fresh.files.list()).data.map((f) => f.filename);
    const batches = (await fresh.batches.list()).data.map((b) => b.id);
    const oldView = await admin(via, 'GET', `/admin/tenants/lazarus/batches/${created.id}`);
    t.diagnostic(`after the re-create: upstream calls ${calls}, new tenant spent ${quota.spent_nanos} n$, files ${JSON.stringify(files)}, `
      + `batches ${JSON.stringify(batches)}, admin view of the old batch ${oldView.status} ${oldView.body?.status ?? ''} ${JSON.stringify(oldView.body?.request_counts ?? '')}`);
    assert.equal(quota.spent_nanos, 0, 'the new tenant pays nothing of the old batch');
    // A purge part that cannot be reached yet (the dead silo's grains are still being moved) is 503 store_unavailable with
    // Retry-After, the relay's answer to a store outage; never a bare 500.
    const fine = (s) => s < 500 || s === 503;
    assert.ok(fine(deleted.status) && answers.every(fine), `no 500: DELETE ${deleted.status}, creates ${answers}`);
    assert.equal(calls, 0, 'the old batch no longer calls the upstream');
    assert.deepEqual(batches, []);
    assert.notEqual(oldView.status, 200, 'the old batch is gone');
  });
});
