// Cancel stops new items at once (issue 12): a batch of 300 slow items (2 s at MockUpstream each) is cancelled with the
// official SDK while about 40 run. MockUpstream counts every model call as it arrives, so its count when `cancel`
// returned against its count at the end proves whether any item started afterwards. The items that were running
// finish and are billed at the batch price; every other item ends as `batch_cancelled`; each custom_id once.
// Run on one embedded silo, then on three silo processes sharing a redis-server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, startRelay, waitFor } from './harness.mjs';
import { startCluster } from './cluster-harness.mjs';
import { assertEachIdOnce, batchEnd, chatLine, costNanos, jsonlFile, mockCalls, uploadLines } from './batch-helpers.mjs';

const ITEMS = 300;
const ITEM_MS = 2_000;
const MODEL = 'remote-fast'; // served by MockUpstream in both harnesses
const PRICES = { input: 0.27, output: 1.1 };
const BATCH_PRICE_FACTOR = 0.5; // Relay:Batches:PriceFactor, default
/** Cancel once at least this many calls run and their count has stopped moving (every item slot is taken). */
const MIN_RUNNING = 30;
const STEADY_MS = 250;

/**
 * The scenario, on whatever runs it: `client` an SDK client of the tenant, `mockOrigin` MockUpstream, `spent()` the
 * tenant's spend in nano-dollars (settled: nothing in flight or reserved).
 */
async function cancelWhileRunning(t, { client, mockOrigin, spent }) {
  const lines = Array.from({ length: ITEMS }, (_, i) => chatLine(`slow-${i}`, MODEL, `slow ${i} [[sim ttft=${ITEM_MS} tokens=3]]`));
  const ids = lines.map((l) => JSON.parse(l).custom_id);
  const input = await uploadLines(client, lines, 'slow.jsonl');
  const calls0 = await mockCalls(mockOrigin);
  const spent0 = await spent();
  const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const startedAt = Date.now();

  // Wait until the first wave fills every item slot: the count is high enough and has not moved for STEADY_MS.
  let last = { calls: -1, since: 0 };
  const running = await waitFor(async () => {
    const calls = (await mockCalls(mockOrigin)) - calls0;
    if (calls !== last.calls) last = { calls, since: Date.now() };
    return calls >= MIN_RUNNING && Date.now() - last.since >= STEADY_MS ? calls : false;
  }, { timeoutMs: 30_000, intervalMs: 25, what: `at least ${MIN_RUNNING} items running at MockUpstream, steady for ${STEADY_MS} ms` });

  const cancelling = await client.batches.cancel(created.id);
  const atCancel = (await mockCalls(mockOrigin)) - calls0;
  const cancelledAt = Date.now();
  assert.ok(['cancelling', 'cancelled'].includes(cancelling.status), `cancel answered ${cancelling.status}`);
  assert.ok(cancelling.cancelling_at, 'cancelling_at is set');
  // The scenario needs the first wave still running when the cancel landed: no item had ended yet.
  const endedAtCancel = cancelling.request_counts.completed + cancelling.request_counts.failed;
  assert.equal(endedAtCancel, 0, `no item had ended when the cancel was acknowledged (${ITEM_MS} ms items, cancelled after `
    + `${cancelledAt - startedAt} ms): ${JSON.stringify(cancelling.request_counts)}`);

  const batch = await batchEnd(client, created.id, { timeoutMs: 40_000 });
  const endedMs = Date.now() - cancelledAt;
  const spentNanos = (await spent()) - spent0;
  const finalCalls = (await mockCalls(mockOrigin)) - calls0;
  const output = await jsonlFile(client, batch.output_file_id);
  const errors = await jsonlFile(client, batch.error_file_id);
  const expectedNanos = output.reduce((sum, l) => sum + costNanos(l.response.body.usage, PRICES, BATCH_PRICE_FACTOR), 0);
  t.diagnostic(`running when cancelled: ${running} (${atCancel} at MockUpstream when cancel returned); MockUpstream calls at the end: `
    + `${finalCalls} (${finalCalls - atCancel} started after the cancel returned); ${batch.status} ${endedMs} ms after the cancel; `
    + `request_counts ${JSON.stringify(batch.request_counts)}; spent ${spentNanos} n$ (output usage at the batch price: ${expectedNanos} n$)`);

  assert.equal(batch.status, 'cancelled');
  assert.equal(finalCalls, atCancel, `no item may start after cancel returned: ${finalCalls - atCancel} upstream calls were made after it`);
  assert.equal(batch.request_counts.total, ITEMS);
  assert.equal(batch.request_counts.completed, output.length, 'completed counts the output lines');
  assert.ok(output.every((l) => l.response.status_code === 200 && l.error === null), 'every output line is a 200');
  // MockUpstream never fails here, so each call is one item that ran and finished.
  assert.equal(batch.request_counts.completed, finalCalls, 'the items that ran are the completed ones');
  assert.equal(batch.request_counts.failed, errors.length);
  const notCancelled = errors.filter((l) => l.response !== null || l.error?.code !== 'batch_cancelled');
  assert.deepEqual(notCancelled.slice(0, 5), [], 'every item that did not run ends as batch_cancelled, without a response');
  assertEachIdOnce(ids, output, errors);
  assert.ok(spentNanos > 0, 'the running items were billed');
  assert.equal(spentNanos, expectedNanos, 'spend is the completed items\' usage at the batch price');
}

describe('cancelling a running batch, one embedded silo', () => {
  let relay;
  before(async () => {
    relay = await startRelay({ env: { Relay__Batches__MaxConcurrentItems: '40', Relay__Batches__MaxItemsPerTenant: '40' } });
  });
  after(() => relay?.stop());

  // Twice: before issue 12 a second wave started in most runs but not all (it depended on how the chunks shared the
  // silo's item slots as they started), and a second batch on the same silo must stop as promptly as the first.
  for (const round of [1, 2]) {
    test(`${ITEMS} slow items, cancelled while about 40 run: no item starts after cancel returns (batch ${round})`, async (t) => {
      await cancelWhileRunning(t, {
        client: relay.client(KEYS.t1),
        mockOrigin: `http://127.0.0.1:${relay.mockPort}`,
        spent: async () => (await relay.settledQuota('t1')).spent_nanos,
      });
    });
  }
});

describe('cancelling a running batch, three silos on one Redis', () => {
  const TENANT = { id: 'slowcancel', key: 'sk-cancel-slow-3b9d1f7a2c5e' };
  let cluster;
  before(async () => {
    cluster = await startCluster({
      silos: 3,
      tenants: { [TENANT.id]: { key: TENANT.key } },
      // 12 items a silo at once (the only tenant may fill every slot), in chunks small enough that
      // every silo has work: about 36 running in all.
      env: { Relay__Batches__MaxConcurrentItems: '12', Relay__Batches__MaxItemsPerTenant: '12', Relay__Batches__ChunkSize: '20' },
    });
  });
  after(() => cluster?.stop());

  test(`${ITEMS} slow items over 3 silos, cancelled while about 36 run: no item starts after cancel returns`, async (t) => {
    const [a, b] = cluster.silos;
    await cancelWhileRunning(t, {
      client: a.client(TENANT.key),
      mockOrigin: cluster.mockOrigin,
      spent: async () => (await waitFor(async () => {
        const quota = await b.quota(TENANT.id);
        return quota.in_flight === 0 && quota.reserved_nanos === 0 ? quota : false;
      }, { timeoutMs: 20_000, what: `${TENANT.id} to settle (in_flight 0, reserved_nanos 0)` })).spent_nanos,
    });
  });
});
