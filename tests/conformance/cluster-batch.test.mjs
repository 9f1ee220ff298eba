// A batch across three silos sharing Redis and a files volume, with one silo SIGKILLed mid-way: another
// silo takes its chunks over after their leases expire, and the batch still ends with every custom_id
// exactly once and the tenant's spend equal to the output file's usage at the batch price.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toFile } from 'openai';
import { startCluster, waitFor } from './cluster-harness.mjs';

const ITEMS = 2000;
const TENANT = { id: 'bulk', key: 'sk-cluster-bulk-7f3a9c2e5b1d' };
// Batch price: half of 0.27 and 1.10 $/MTok, a whole number of nano-dollars a token.
const NANOS_PER_TOKEN = { input: 135, output: 550 };

let cluster;
before(async () => {
  cluster = await startCluster({
    silos: 3,
    tenants: { [TENANT.id]: { key: TENANT.key } },
    env: {
      Relay__ReservationSeconds: '5',
      Relay__Batches__LeaseSeconds: '3',
      Relay__Batches__ChunkSize: '50',
      // Few items at a time, so the batch is still running when a silo dies.
      Relay__Batches__MaxConcurrentItems: '8',
      Relay__Batches__MaxConcurrentChunks: '2',
    },
  });
});
after(() => cluster?.stop());

describe('batches in the cluster', () => {
  test(`a ${ITEMS}-item batch survives a SIGKILLed silo: every custom_id once, spend equal to the output's usage`, async () => {
    const [a, b] = cluster.silos;
    const client = a.client(TENANT.key);
    const lines = Array.from({ length: ITEMS }, (_, i) => JSON.stringify({
      custom_id: `item-${i}`, method: 'POST', url: '/v1/chat/completions',
      body: { model: 'remote-fast', messages: [{ role: 'user', content: `row ${i} [[sim ttft=40 tokens=${1 + (i % 7)}]]` }] },
    }));
    const input = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'bulk.jsonl'), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });

    // Kill the third silo once the batch is well under way (it holds leases of its own by then).
    await waitFor(async () => (await client.batches.retrieve(created.id)).request_counts.completed >= ITEMS / 5,
      { timeoutMs: 60_000, intervalMs: 100, what: 'a fifth of the batch to complete' });
    await cluster.silos[2].kill();
    // Until membership declares the silo dead (1–2 s), a grain it hosted answers 503 store_unavailable, as documented.
    const atKill = await waitFor(() => a.client(TENANT.key).batches.retrieve(created.id).catch((e) => (e.status === 503 ? false : Promise.reject(e))),
      { timeoutMs: 20_000, intervalMs: 100, what: 'the batch readable after the kill' });
    assert.ok(atKill.request_counts.completed < ITEMS, 'the silo died while the batch was running');

    const reader = b.client(TENANT.key); // read through a surviving silo other than the creator
    const batch = await waitFor(async () => {
      const current = await reader.batches.retrieve(created.id);
      return ['completed', 'failed', 'expired', 'cancelled'].includes(current.status) ? current : false;
    }, { timeoutMs: 120_000, intervalMs: 250, what: 'the batch to finish' });
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.request_counts, { total: ITEMS, completed: ITEMS, failed: 0 });
    assert.equal(batch.error_file_id, null);

    const output = (await (await reader.files.content(batch.output_file_id)).text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const ids = output.map((l) => l.custom_id);
    assert.equal(ids.length, ITEMS, 'one line per item');
    assert.equal(new Set(ids).size, ITEMS, 'no custom_id twice');
    assert.ok(output.every((l) => l.response.status_code === 200));

    const expected = output.reduce((sum, l) => sum
      + l.response.body.usage.prompt_tokens * NANOS_PER_TOKEN.input + l.response.body.usage.completion_tokens * NANOS_PER_TOKEN.output, 0);
    const usage = await b.usage(TENANT.id);
    assert.equal(usage.cost_nanos, expected, 'spent equals the output usage at the batch price, booked once per item');
    assert.equal(usage.requests, ITEMS);
    // The dead silo's in-flight reservations are reclaimed, never booked.
    const quota = await waitFor(async () => {
      const q = await b.quota(TENANT.id);
      return q.in_flight === 0 && q.reserved_nanos === 0 ? q : false;
    }, { timeoutMs: 20_000, what: 'the dead silo\'s reservations to be reclaimed' });
    assert.equal(quota.spent_nanos, expected);
  });
});
