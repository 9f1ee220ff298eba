// The silo hosting a running batch's grain SIGKILLed (issue 12): three silo processes on one redis-server, a
// 2,000-item batch created with the official SDK, the batch grain's host (GET /admin/tenants/{t}/batches/{id}/grain)
// killed once some items have ended. Through a survivor the batch must still complete, with every custom_id exactly
// once across the output and error files, and the tenant's spend equal to the items' usage at the batch price.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster-harness.mjs';
import { FINAL_STATUSES, assertEachIdOnce, chatLine, costNanos, jsonlFile, uploadLines, FAILURE_ENV, retrieveOrNull } from './batch-helpers.mjs';

const ITEMS = 2000;
const MODEL = 'remote-fast';
const PRICES = { input: 0.27, output: 1.1 }; // remote-fast in cluster-harness.mjs
const BATCH_PRICE_FACTOR = 0.5; // Relay:Batches:PriceFactor, default
const ITEM_MS = 100; // MockUpstream's answer time for every item
const TENANT = { id: 'failover', key: 'sk-batch-failover-6c1e9a4d2f8b' };
/** Kill once this many items have ended (and not all of them). */
const KILL_AFTER = 300;

let cluster;
before(async () => {
  cluster = await startCluster({
    silos: 3,
    tenants: { [TENANT.id]: { key: TENANT.key } },
    // 16 items a silo at once, 100 ms each: the batch runs for several seconds, so the kill lands mid-run.
    env: FAILURE_ENV,
  });
});
after(() => cluster?.stop());

const retrieve = (silo, id) => retrieveOrNull(silo, TENANT.key, id);

describe('a batch whose grain host dies', () => {
  test(`a ${ITEMS}-item batch completes after SIGKILL of the silo hosting its grain: each custom_id once, spend = usage at the batch price`, async (t) => {
    const [creator] = cluster.silos;
    const client = creator.client(TENANT.key);
    const lines = Array.from({ length: ITEMS }, (_, i) =>
      chatLine(`item-${i}`, MODEL, `row ${i} [[sim ttft=${ITEM_MS} tokens=${1 + (i % 7)}]]`));
    const ids = lines.map((l) => JSON.parse(l).custom_id);
    const input = await uploadLines(client, lines, 'failover.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const createdAt = Date.now();

    const atKill = await waitFor(async () => {
      const batch = await client.batches.retrieve(created.id);
      const ended = batch.request_counts.completed + batch.request_counts.failed;
      if (FINAL_STATUSES.includes(batch.status) || ended >= ITEMS) {
        throw Object.assign(new Error(`the batch ended (${batch.status}) before the kill: make its items slower`), { fatal: true });
      }
      return ended >= KILL_AFTER ? batch : false;
    }, { timeoutMs: 60_000, intervalMs: 50, what: `${KILL_AFTER} items to end` });

    let host = await cluster.batchGrainHost(TENANT.id, created.id, creator);
    if (host === null) {
      host = cluster.silos[2];
      t.diagnostic(`FALLBACK: GET /admin/tenants/${TENANT.id}/batches/${created.id}/grain answered 404 (no batch grain on this build); `
        + `killing ${host.label}, one of the silos running the batch's chunks, not a batch grain's host`);
    } else {
      t.diagnostic(`the batch grain is on ${host.label} (${host.siloAddress}); the batch was created through ${creator.label}`);
    }
    await host.kill();
    const killedAt = Date.now();
    const survivors = cluster.silos.filter((s) => s.alive);
    assert.equal(survivors.length, 2);
    const endedAtKill = atKill.request_counts.completed + atKill.request_counts.failed;

    // Through every survivor in turn, so no survivor is the only one that can answer.
    let polls = 0;
    const batch = await waitFor(async () => {
      const current = await retrieve(survivors[polls++ % survivors.length], created.id);
      return current && FINAL_STATUSES.includes(current.status) ? current : false;
    }, { timeoutMs: 120_000, intervalMs: 250, what: `batch ${created.id} to end after the kill` });
    const endedMs = Date.now() - killedAt;

    const reader = survivors[0];
    const readerClient = reader.client(TENANT.key);
    const output = await jsonlFile(readerClient, batch.output_file_id);
    const errors = await jsonlFile(readerClient, batch.error_file_id);
    // The dead silo's reservations are reclaimed, never booked: wait until nothing is held before reading the spend.
    const quota = await waitFor(async () => {
      const q = await reader.quota(TENANT.id);
      return q.in_flight === 0 && q.reserved_nanos === 0 ? q : false;
    }, { timeoutMs: 30_000, intervalMs: 100, what: `${TENANT.id} to settle (in_flight 0, reserved_nanos 0)` });
    const usage = await survivors[1].usage(TENANT.id);

    // Billed: every line carrying usage. Output lines always do; an error line does only if an upstream answered with
    // usage (none does here: MockUpstream never fails, so any error line is the relay's own and cost nothing).
    const billed = [...output, ...errors].filter((l) => l.response?.body?.usage);
    const expectedNanos = billed.reduce((sum, l) => sum + costNanos(l.response.body.usage, PRICES, BATCH_PRICE_FACTOR), 0);
    const errorKinds = {};
    for (const l of errors) {
      const kind = `${l.response?.status_code ?? '-'} ${l.error?.code ?? l.response?.body?.error?.code ?? '?'}`;
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    }
    t.diagnostic(`killed ${host.label} ${killedAt - createdAt} ms after the create, with ${endedAtKill}/${ITEMS} items ended; `
      + `${batch.status} ${endedMs} ms after the kill; request_counts ${JSON.stringify(batch.request_counts)}; `
      + `output ${output.length} lines, errors ${errors.length} ${JSON.stringify(errorKinds)}; spent ${quota.spent_nanos} n$ `
      + `(usage ${usage.cost_nanos} n$ over ${usage.requests} requests; expected ${expectedNanos} n$ from ${billed.length} lines)`);

    assert.equal(batch.status, 'completed');
    assert.equal(batch.request_counts.total, ITEMS);
    assert.equal(batch.request_counts.completed + batch.request_counts.failed, ITEMS, 'every item ended');
    assert.equal(batch.request_counts.completed, output.length, 'completed counts the output lines');
    assert.equal(batch.request_counts.failed, errors.length, 'failed counts the error lines');
    assertEachIdOnce(ids, output, errors);
    assert.ok(output.every((l) => l.response.status_code === 200 && l.error === null), 'every output line is a 200');
    assert.equal(quota.spent_nanos, expectedNanos, 'spend is the items\' usage at the batch price, each item booked once');
    assert.equal(usage.cost_nanos, quota.spent_nanos, 'the usage totals agree with the spend');
    assert.deepEqual(errorKinds, {}, 'no item failed (MockUpstream never fails, so a failure would be the failover\'s)');
  });
});
