// Issue 12 review: a batch's life cut short on one embedded silo: the completion window closing mid-run, a budget
// running out mid-batch, the tenant paused mid-batch, the tenant deleted mid-batch and re-created with the same id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { ADMIN_KEY, startRelay, waitFor } from './harness.mjs';
import { assertEachIdOnce, batchEnd, chatLine, costNanos, jsonlFile, mockCalls, uploadLines } from './batch-helpers.mjs';

const MODEL = 'remote-fast';
const PRICES = { input: 0.27, output: 1.1 };
const BATCH_PRICE_FACTOR = 0.5;
const WINDOW_S = 8;
const BUDGET_USD = Number(process.env.BUDGET_USD ?? 0.02);

let relay;
let mockOrigin;
before(async () => {
  relay = await startRelay({
    env: {
      Relay__Batches__ChunkSize: '50',
      Relay__Batches__MaxConcurrentItems: '16',
      Relay__Batches__LeaseSeconds: '3',
      Relay__Batches__CompletionWindowSeconds: String(WINDOW_S),
      Relay__ReservationSeconds: '5',
    },
  });
  mockOrigin = `http://127.0.0.1:${relay.mockPort}`;
});
after(() => relay?.stop());

async function admin(method, pathname, body) {
  const res = await fetch(relay.origin + pathname, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function newTenant(id, extra = {}) {
  const res = await admin('POST', '/admin/tenants', { id, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return new OpenAI({ apiKey: res.body.key.key, baseURL: relay.baseURL, maxRetries: 0, timeout: 20_000 });
}

const lineCost = (l) => (l.response?.body?.usage ? costNanos(l.response.body.usage, PRICES, BATCH_PRICE_FACTOR) : 0);
const codeOf = (l) => l.error?.code ?? l.response?.body?.error?.code ?? '?';
const kinds = (lines) => lines.reduce((k, l) => ({ ...k, [codeOf(l)]: (k[codeOf(l)] ?? 0) + 1 }), {});

describe('a batch cut short', () => {
  test('the completion window closes mid-run: expired, each id once, the rest batch_expired, spend = Σ usage', async (t) => {
    const client = await newTenant('expiring');
    const lines = Array.from({ length: 3000 }, (_, i) => chatLine(`e-${i}`, MODEL, `row ${i} [[sim ttft=150 tokens=2]]`));
    const ids = lines.map((l) => JSON.parse(l).custom_id);
    const input = await uploadLines(client, lines, 'exp.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await batchEnd(client, created.id, { timeoutMs: 90_000 });
    const output = await jsonlFile(client, batch.output_file_id);
    const errors = await jsonlFile(client, batch.error_file_id);
    const quota = await relay.settledQuota('expiring');
    const expected = [...output, ...errors].reduce((s, l) => s + lineCost(l), 0);
    t.diagnostic(`${batch.status} ${JSON.stringify(batch.request_counts)}; ended ${batch.expired_at ?? batch.completed_at} vs expires_at ${batch.expires_at}; `
      + `errors ${JSON.stringify(kinds(errors))}; spent ${quota.spent_nanos} expected ${expected}`);
    assert.equal(batch.status, 'expired');
    assertEachIdOnce(ids, output, errors);
    assert.equal(quota.spent_nanos, expected);
    assert.ok(errors.every((l) => codeOf(l) === 'batch_expired'), JSON.stringify(kinds(errors)));
  });

  test('a budget well above what the whole batch costs: no item fails insufficient_quota (in-flight reservations are not spend)', async (t) => {
    const client = await newTenant('budgeted', { monthly_budget_usd: BUDGET_USD, pause_threshold: 0 }); // the budget is the subject, not the auto-pause
    // Each call reserves its worst case (~2.25M n$ here), so about 8 fit in the budget at once and the rest wait their
    // turn: 300 items fit this suite's short completion window.
    const lines = Array.from({ length: 300 }, (_, i) => chatLine(`b-${i}`, MODEL, `row ${i} [[sim ttft=20 tokens=5]]`));
    const ids = lines.map((l) => JSON.parse(l).custom_id);
    const input = await uploadLines(client, lines, 'budget.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await batchEnd(client, created.id, { timeoutMs: 90_000 });
    const output = await jsonlFile(client, batch.output_file_id);
    const errors = await jsonlFile(client, batch.error_file_id);
    const quota = await relay.settledQuota('budgeted');
    const expected = [...output, ...errors].reduce((s, l) => s + lineCost(l), 0);
    t.diagnostic(`${batch.status} ${JSON.stringify(batch.request_counts)}; errors ${JSON.stringify(kinds(errors))}; spent ${quota.spent_nanos} `
      + `(budget ${BUDGET_USD * 1e9}) expected ${expected}`);
    assertEachIdOnce(ids, output, errors);
    assert.equal(quota.spent_nanos, expected);
    assert.deepEqual(kinds(errors), {}, `no item refused: the batch cost ${quota.spent_nanos} n$ of a ${BUDGET_USD * 1e9} n$ budget`);
    assert.ok(quota.spent_nanos <= BUDGET_USD * 1e9, `spend ${quota.spent_nanos} within the budget (plus what was in flight)`);
  });

  test('the tenant deleted mid-batch and re-created with the same id: nothing of the old batch reaches the new tenant', async (t) => {
    const old = await newTenant('phoenix');
    const lines = Array.from({ length: 2000 }, (_, i) => chatLine(`p-${i}`, MODEL, `row ${i} [[sim ttft=300 tokens=4]]`));
    const input = await uploadLines(old, lines, 'phoenix.jsonl');
    const created = await old.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await old.batches.retrieve(created.id)).request_counts.completed >= 50,
      { timeoutMs: 30_000, intervalMs: 50, what: '50 items to complete' });
    const del = await admin('DELETE', '/admin/tenants/phoenix');
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const callsAtDelete = await mockCalls(mockOrigin);
    const again = await newTenant('phoenix');
    await assert.rejects(() => again.batches.retrieve(created.id), (e) => e.status === 404);
    assert.deepEqual((await again.batches.list()).data.map((b) => b.id), []);
    // Whatever was running when the delete returned ends within a few seconds; then nothing more starts, and the
    // new tenant is never billed for the old one's items.
    let steady = { calls: -1, since: Date.now() };
    await waitFor(async () => {
      const calls = await mockCalls(mockOrigin);
      if (calls !== steady.calls) steady = { calls, since: Date.now() };
      return Date.now() - steady.since > 2_000;
    }, { timeoutMs: 30_000, intervalMs: 100, what: 'upstream calls to stop' });
    const quota = await relay.settledQuota('phoenix');
    const usage = (await admin('GET', '/admin/tenants/phoenix/usage')).body;
    const files = await again.files.list();
    t.diagnostic(`calls after the delete returned: ${steady.calls - callsAtDelete}; new tenant spent ${quota.spent_nanos}, usage ${JSON.stringify(usage)}, `
      + `files ${JSON.stringify(files.data.map((f) => f.filename))}`);
    assert.ok(steady.calls - callsAtDelete <= 16, `at most the running items continued (${steady.calls - callsAtDelete})`);
    assert.equal(quota.spent_nanos, 0, 'the new tenant paid nothing');
    assert.equal(usage.requests, 0);
    assert.deepEqual(files.data, [], 'no file of the old batch appears for the new tenant');
  });

  test('the tenant paused mid-batch, then resumed: the batch completes, each id once', async (t) => {
    const client = await newTenant('pausable');
    const lines = Array.from({ length: 600 }, (_, i) => chatLine(`z-${i}`, MODEL, `row ${i} [[sim ttft=40 tokens=2]]`));
    const ids = lines.map((l) => JSON.parse(l).custom_id);
    const input = await uploadLines(client, lines, 'pause.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await client.batches.retrieve(created.id)).request_counts.completed >= 50,
      { timeoutMs: 30_000, intervalMs: 50, what: '50 items to complete' });
    assert.equal((await admin('POST', '/admin/tenants/pausable/pause')).status, 200);
    const pausedCalls = await mockCalls(mockOrigin);
    await new Promise((r) => setTimeout(r, 1_500)); // the pause lasting a while, not a synchronisation
    const whilePaused = (await mockCalls(mockOrigin)) - pausedCalls;
    assert.equal((await admin('POST', '/admin/tenants/pausable/resume')).status, 200);
    const batch = await batchEnd(client, created.id, { timeoutMs: 60_000 });
    const output = await jsonlFile(client, batch.output_file_id);
    const errors = await jsonlFile(client, batch.error_file_id);
    t.diagnostic(`${batch.status} ${JSON.stringify(batch.request_counts)}; calls while paused ${whilePaused}; errors ${JSON.stringify(kinds(errors))}`);
    assertEachIdOnce(ids, output, errors);
    assert.ok(whilePaused <= 16, `calls started while paused: ${whilePaused}`);
    assert.deepEqual(kinds(errors), {}, 'a pause delays items; it does not fail them');
  });
});
