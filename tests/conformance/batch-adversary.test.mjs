// Issue 12 review: a new user and an adversary against the batch grains on one embedded silo (MockUpstream serves
// remote-fast). Each test states the contract it holds the relay to; see the review report for which fail on main.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toFile } from 'openai';
import { ADMIN_KEY, KEYS, startRelay, waitFor } from './harness.mjs';
import { assertEachIdOnce, batchEnd, chatLine, costNanos, jsonlFile, mockCalls, uploadLines } from './batch-helpers.mjs';

const MODEL = 'remote-fast';
const PRICES = { input: 0.27, output: 1.1 };
const BATCH_PRICE_FACTOR = 0.5;

let relay;
let mockOrigin;
before(async () => {
  relay = await startRelay({
    env: {
      Relay__Batches__ChunkSize: '50',
      Relay__Batches__MaxConcurrentItems: '16',
      Relay__Batches__LeaseSeconds: '3',
      Relay__Batches__RetryBaseMs: '50',
      Relay__Batches__RetryMaxMs: '200',
    },
  });
  mockOrigin = `http://127.0.0.1:${relay.mockPort}`;
});
after(() => relay?.stop());

async function settledSpend(tenant = 't1') {
  return (await relay.settledQuota(tenant)).spent_nanos;
}

const lineCost = (l) => (l.response?.body?.usage ? costNanos(l.response.body.usage, PRICES, BATCH_PRICE_FACTOR) : 0);

describe('batches as an adversary would use them', () => {
  test('input file deleted mid-batch: the batch ends, and every item it billed has its line in a result file', async (t) => {
    const client = relay.client();
    const lines = Array.from({ length: 800 }, (_, i) => chatLine(`del-${i}`, MODEL, `row ${i} [[sim ttft=60 tokens=3]]`));
    const ids = lines.map((l) => JSON.parse(l).custom_id);
    const input = await uploadLines(client, lines, 'deleted.jsonl');
    const spent0 = await settledSpend();
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => {
      const b = await client.batches.retrieve(created.id);
      return b.request_counts.completed >= 100;
    }, { timeoutMs: 30_000, intervalMs: 50, what: '100 items to complete' });
    const deleted = await client.files.del?.(input.id) ?? await client.files.delete(input.id);
    assert.equal(deleted.deleted, true);

    const batch = await batchEnd(client, created.id, { timeoutMs: 120_000 });
    const output = await jsonlFile(client, batch.output_file_id);
    const errors = await jsonlFile(client, batch.error_file_id);
    const spent = (await settledSpend()) - spent0;
    const billedInFiles = [...output, ...errors].reduce((s, l) => s + lineCost(l), 0);
    t.diagnostic(`status ${batch.status}, counts ${JSON.stringify(batch.request_counts)}, errors ${JSON.stringify(batch.errors)}, `
      + `output ${output.length} lines, error file ${errors.length} lines, spent ${spent} n$, billed lines ${billedInFiles} n$`);
    assert.equal(spent, billedInFiles, 'the tenant paid only for results it can download');
    assertEachIdOnce(ids, output, errors);
  });

  test('cancel right after create, twice at once: both acknowledged, the batch ends cancelled, no item starts after they returned', async () => {
    const client = relay.client();
    const lines = Array.from({ length: 300 }, (_, i) => chatLine(`cc-${i}`, MODEL, `row ${i} [[sim ttft=50 tokens=2]]`));
    const input = await uploadLines(client, lines, 'cc.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const [a, b] = await Promise.all([client.batches.cancel(created.id), client.batches.cancel(created.id)]);
    const atCancel = await mockCalls(mockOrigin);
    for (const c of [a, b]) assert.ok(['cancelling', 'cancelled'].includes(c.status), c.status);
    const batch = await batchEnd(client, created.id);
    assert.equal(batch.status, 'cancelled');
    assert.equal(await mockCalls(mockOrigin), atCancel, 'no upstream call starts after the cancels returned');
    // A third cancel of a final batch: OpenAI answers the batch unchanged or a 4xx; never a 5xx.
    const third = await fetch(`${relay.baseURL}/batches/${created.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.t1}` } });
    assert.ok(third.status < 500, `third cancel: HTTP ${third.status}`);
  });

  test("another tenant's batch is 404 everywhere, admin endpoints need the admin key", async () => {
    const owner = relay.client();
    const other = relay.client(KEYS.t2);
    const input = await uploadLines(owner, [chatLine('x-1', MODEL, 'hi')], 'x.jsonl');
    const created = await owner.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    for (const [what, call] of [['retrieve', () => other.batches.retrieve(created.id)], ['cancel', () => other.batches.cancel(created.id)]]) {
      await assert.rejects(call, (err) => err.status === 404, `${what} by another tenant`);
    }
    const byOther = await other.batches.list();
    assert.ok(!byOther.data.some((b) => b.id === created.id));
    // The admin grain endpoint under the wrong tenant, and without the key.
    const wrong = await relay.admin(`/admin/tenants/t2/batches/${created.id}/grain`);
    assert.equal(wrong.status, 404);
    for (const key of [null, KEYS.t1]) {
      for (const p of [`/admin/tenants/t1/batches/${created.id}/grain`, `/admin/tenants/t1/batches/${created.id}`, '/admin/tenants/t1/batches']) {
        const res = await fetch(relay.origin + p, { headers: key ? { authorization: `Bearer ${key}` } : {} });
        assert.ok(res.status === 401 || res.status === 403, `${p} with ${key ? 'a tenant key' : 'no key'}: HTTP ${res.status}`);
      }
    }
    await batchEnd(owner, created.id);
  });

  test('admin lookups of a malformed or unknown batch id answer 404 without activating grains for junk ids', async () => {
    for (const id of ['batch_' + 'z'.repeat(5000), 'not-a-batch', '..%2F..%2Fetc']) {
      for (const p of [`/admin/tenants/t1/batches/${id}`, `/admin/tenants/t1/batches/${id}/grain`]) {
        const res = await fetch(relay.origin + p, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
        assert.ok(res.status === 404 || res.status === 400, `${p.slice(0, 80)}: HTTP ${res.status}`);
      }
      const cancel = await fetch(`${relay.origin}/admin/tenants/t1/batches/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      assert.ok(cancel.status === 404 || cancel.status === 400, `admin cancel of ${id.slice(0, 40)}: HTTP ${cancel.status}`);
    }
  });

  test('admin cancel of a completed batch is refused as the public API refuses it', async () => {
    const client = relay.client();
    const input = await uploadLines(client, [chatLine('done-1', MODEL, 'hi')], 'done.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await batchEnd(client, created.id);
    assert.equal(batch.status, 'completed');
    const pub = await fetch(`${relay.baseURL}/batches/${created.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.t1}` } });
    const adm = await fetch(`${relay.origin}/admin/tenants/t1/batches/${created.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(pub.status, 400);
    assert.equal(adm.status, pub.status, 'admin cancel of a completed batch');
  });

  test('bad input: every error an OpenAI-style 4xx envelope or a failed batch naming each line, never a 5xx', async (t) => {
    const client = relay.client();
    const raw = async (body) => {
      const res = await fetch(`${relay.baseURL}/batches`, {
        method: 'POST', headers: { authorization: `Bearer ${KEYS.t1}`, 'content-type': 'application/json' }, body,
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    };
    const good = await uploadLines(client, [chatLine('g-1', MODEL, 'hi')], 'g.jsonl');
    for (const body of [
      '', 'null', '[]', '{', JSON.stringify({ input_file_id: good.id }),
      JSON.stringify({ input_file_id: good.id, endpoint: '/v1/responses', completion_window: '24h' }),
      JSON.stringify({ input_file_id: good.id, endpoint: '/v1/chat/completions', completion_window: '1h' }),
      JSON.stringify({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' }),
      JSON.stringify({ input_file_id: 42, endpoint: '/v1/chat/completions', completion_window: '24h' }),
      JSON.stringify({ input_file_id: good.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { k: 'x'.repeat(600) } }),
      JSON.stringify({ input_file_id: good.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: 'str' }),
    ]) {
      const res = await raw(body);
      t.diagnostic(`${body.slice(0, 70)} → ${res.status} ${JSON.stringify(res.body?.error ?? res.body).slice(0, 160)}`);
      assert.ok(res.status >= 400 && res.status < 500, `${body.slice(0, 60)}: HTTP ${res.status}`);
      assert.equal(typeof res.body?.error?.message, 'string');
    }
    // Wrong purpose.
    const notBatch = await client.files.create({ file: await toFile(Buffer.from('x'), 'a.txt'), purpose: 'assistants' }).catch((e) => e);
    if (notBatch.id) {
      const res = await raw(JSON.stringify({ input_file_id: notBatch.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
      assert.equal(res.status, 400);
    }
    // Files whose lines are bad: a failed batch whose errors name each bad line.
    const cases = [
      ['empty', [''], null],
      ['malformed', ['{', 'not json', chatLine('ok-1', MODEL, 'hi'), '[1,2]', '{"custom_id":"a","custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"remote-fast","messages":[]}}'], [1, 2, 4, 5]],
      ['duplicates', [chatLine('d', MODEL, 'a'), chatLine('d', MODEL, 'b'), chatLine('e', MODEL, 'c'), chatLine('d', MODEL, 'd')], [2, 4]],
      ['wrong url', [JSON.stringify({ custom_id: 'u', method: 'POST', url: '/v1/embeddings', body: { model: MODEL, input: 'x' } })], [1]],
      ['huge line', [chatLine('big', MODEL, 'x'.repeat(11 * 1024 * 1024)), chatLine('small', MODEL, 'y')], [1]],
    ];
    for (const [name, lines, badLines] of cases) {
      const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), `${name}.jsonl`), purpose: 'batch' }).catch((e) => e);
      if (!file.id) {
        t.diagnostic(`${name}: upload refused ${file.status} ${file.message}`);
        assert.ok(file.status >= 400 && file.status < 500, `${name} upload: ${file.status}`);
        continue;
      }
      const res = await raw(JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
      assert.ok(res.status < 500, `${name}: create HTTP ${res.status}`);
      if (res.status >= 400) continue;
      const batch = await batchEnd(client, res.body.id);
      t.diagnostic(`${name}: ${batch.status} ${JSON.stringify(batch.errors?.data?.map((e) => [e.code, e.line]))}`);
      assert.equal(batch.status, 'failed', name);
      if (badLines) assert.deepEqual(batch.errors.data.map((e) => e.line), badLines, `${name}: each bad line named`);
    }
  });

  test('a batch of MaxRequests + 1 lines fails with a clear error; MaxRequests lines validate', async (t) => {
    const client = relay.client();
    const line = (i) => JSON.stringify({ custom_id: `m-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'x' }] } });
    const lines = Array.from({ length: 200_001 }, (_, i) => line(i));
    const file = await uploadLines(client, lines, 'max.jsonl');
    const started = Date.now();
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await batchEnd(client, created.id, { timeoutMs: 120_000, intervalMs: 250 });
    t.diagnostic(`200,001 lines: ${batch.status} after ${Date.now() - started} ms: ${JSON.stringify(batch.errors?.data)}`);
    assert.equal(batch.status, 'failed');
    assert.equal(batch.errors.data[0].code, 'too_many_requests');
    assert.equal(batch.errors.data[0].line, 200_001);
  });
});
