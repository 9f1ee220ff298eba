// Issue 12 review: a graceful stop (SIGTERM, a rolling restart) of a silo running a batch's chunks while their items
// wait on the upstream. The chunk hands its run back and another silo runs the rest: every custom_id once, and the
// tenant's spend must equal the items' usage at the batch price: an item cut off by the stop and run again must not be
// billed twice (the ledger, read from Redis, is compared with the request ids of the result files).
// The upstream is a small HTTP server of this test that accepts at once (200 and the first bytes of the body) and
// finishes the body after BODY_MS, as a real upstream that has started generating: a call cut off then is billable.
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:http';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster-harness.mjs';
import { FINAL_STATUSES, assertEachIdOnce, chatLine, costNanos, jsonlFile, uploadLines, FAILURE_ENV, retrieveOrNull } from './batch-helpers.mjs';

const ITEMS = 600;
const MODEL = 'slow-body';
const BODY_MS = 2_000;
let upstreamCalls = 0;
const upstream = createServer((req, res) => {
  upstreamCalls++;
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const full = JSON.stringify({
      id: 'chatcmpl-slow', object: 'chat.completion', created: 1, model: 'slow-body',
      choices: [{ index: 0, message: { role: 'assistant', content: 'done' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
    });
    res.write(full.slice(0, 10));
    const timer = setTimeout(() => res.end(full.slice(10)), BODY_MS);
    res.on('close', () => clearTimeout(timer));
  });
});
const PRICES = { input: 0.27, output: 1.1 };
const TENANT = { id: 'graceful', key: 'sk-batch-graceful-5b2d8e1f' };

let cluster;
before(async () => {
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  cluster = await startCluster({
    silos: 3,
    tenants: { [TENANT.id]: { key: TENANT.key } },
    env: {
      ...FAILURE_ENV,
      Relay__Providers__slow__Type: 'openai',
      Relay__Providers__slow__BaseUrl: `http://127.0.0.1:${upstream.address().port}/v1`,
      Relay__Providers__slow__ApiKey: 'upstream-slow',
      'Relay__Models__slow-body__Provider': 'slow',
      'Relay__Models__slow-body__InputPerMTok': '0.27',
      'Relay__Models__slow-body__OutputPerMTok': '1.10',
    },
  });
});
after(async () => {
  await cluster?.stop();
  upstream.close();
});

const retrieve = (silo, id) => retrieveOrNull(silo, TENANT.key, id);

describe('a silo stopped gracefully under a running batch', () => {
  test('SIGTERM of a chunk-running silo while items wait on the upstream: each id once, each item billed once', async (t) => {
    const client = cluster.silos[0].client(TENANT.key);
    const lines = Array.from({ length: ITEMS }, (_, i) => chatLine(`g-${i}`, MODEL, `row ${i}`));
    const ids = lines.map((l) => JSON.parse(l).custom_id);
    const input = await uploadLines(client, lines, 'graceful.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const host = await waitFor(() => cluster.batchGrainHost(TENANT.id, created.id), { timeoutMs: 10_000, what: 'the grain host' });
    // Stop a silo that runs chunks but not the batch grain, mid-wave: its items are at the upstream.
    await waitFor(async () => ((await retrieve(cluster.silos[0], created.id))?.request_counts.completed ?? 0) >= 48,
      { timeoutMs: 60_000, intervalMs: 50, what: 'the first wave to complete' });
    const calls0 = upstreamCalls;
    await waitFor(() => upstreamCalls >= calls0 + 30, { timeoutMs: 10_000, intervalMs: 20, what: 'the next wave at the upstream' });
    const victim = cluster.silos.find((s) => s !== host);
    await victim.stop();
    t.diagnostic(`stopped ${victim.label} (SIGTERM); the grain is on ${host.label}`);

    const reader = cluster.silos.find((s) => s.alive);
    const batch = await waitFor(async () => {
      const b = await retrieve(reader, created.id);
      return b && FINAL_STATUSES.includes(b.status) ? b : false;
    }, { timeoutMs: 120_000, intervalMs: 200, what: 'the batch to end' });
    const rc = reader.client(TENANT.key);
    const output = await jsonlFile(rc, batch.output_file_id);
    const errors = await jsonlFile(rc, batch.error_file_id);
    const quota = await waitFor(async () => {
      const q = await reader.quota(TENANT.id);
      return q.in_flight === 0 && q.reserved_nanos === 0 ? q : false;
    }, { timeoutMs: 40_000, intervalMs: 200, what: 'the tenant to settle' });
    const expected = [...output, ...errors].filter((l) => l.response?.body?.usage)
      .reduce((s, l) => s + costNanos(l.response.body.usage, PRICES, 0.5), 0);
    const ledger = (await cluster.ledger(TENANT.id)) ?? [];
    const inFiles = new Set([...output, ...errors].filter((l) => l.response).map((l) => l.response.request_id));
    const extra = ledger.filter((r) => !inFiles.has(r.request_id));
    const endings = {};
    for (const r of extra) endings[`${r.ending} ${r.status}`] = (endings[`${r.ending} ${r.status}`] ?? 0) + 1;
    t.diagnostic(`upstream calls ${upstreamCalls} for ${ITEMS} items; ${batch.status} ${JSON.stringify(batch.request_counts)}; spent ${quota.spent_nanos} expected ${expected}; ledger ${ledger.length} `
      + `records, ${extra.length} for no line of the files ${JSON.stringify(endings)}, costing ${extra.reduce((s, r) => s + r.cost_nanos, 0)} n$`);
    assert.equal(batch.status, 'completed');
    assertEachIdOnce(ids, output, errors);
    assert.deepEqual(endings, {}, 'every ledger record is an item of the files');
    assert.equal(quota.spent_nanos, expected, 'spend = Σ line usage at the batch price');
  });
});
