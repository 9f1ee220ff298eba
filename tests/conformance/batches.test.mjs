// The Batch API through the official openai SDK: upload a JSONL, create a batch, poll it to its end,
// download the output and error files; validation failures, cancellation, expiry, retries, tenant isolation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile, NotFoundError, BadRequestError } from 'openai';
import { KEYS, collectStream, connectHub, startRelay, waitFor } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay({
    env: {
      Relay__Batches__ChunkSize: '7',
      Relay__Batches__MaxAttempts: '3',
      Relay__Batches__RetryBaseMs: '20',
      Relay__Batches__RetryMaxMs: '100',
    },
  });
});
after(() => relay?.stop());

const line = (customId, content, extra = {}) => JSON.stringify({
  custom_id: customId, method: 'POST', url: '/v1/chat/completions',
  body: { model: 'mock-fast', messages: [{ role: 'user', content }], ...extra },
});

async function upload(client, lines, name = 'input.jsonl') {
  return client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), name), purpose: 'batch' });
}

async function finished(client, id, timeoutMs = 30_000) {
  return waitFor(async () => {
    const batch = await client.batches.retrieve(id);
    return ['completed', 'failed', 'expired', 'cancelled'].includes(batch.status) ? batch : false;
  }, { timeoutMs, intervalMs: 50, what: `batch ${id} to finish` });
}

async function jsonl(client, fileId) {
  const text = await (await client.files.content(fileId)).text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * Cost in nano-dollars as the relay computes it, tokens × USD per million × 1000 per part: at these prices
 * (0.27 and 1.10, halved for batches) that is a whole number of nano-dollars a token, so integers stay exact.
 */
const cost = (prompt, completion, factor) => prompt * Math.round(270 * factor) + completion * Math.round(1100 * factor);

describe('batches', () => {
  test('a batch runs to completion: every custom_id once, retries, errors, and usage at the batch price', async () => {
    const client = relay.client();
    const lines = [];
    for (let i = 0; i < 25; i++) lines.push(line(`ok-${i}`, `item ${i} [[sim tokens=${3 + (i % 5)}]]`));
    lines.push(line('bad-request', 'refused [[sim error=400]]'));
    lines.push(line('flaky', 'twice then fine [[sim error=503 error_times=2]]'));
    lines.push(line('down', 'always down [[sim error=500]]'));
    const input = await upload(client, lines);
    const before = (await relay.admin('/admin/tenants/t1/usage')).body;

    const created = await client.batches.create({
      input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { job: 'nightly' },
    });
    assert.match(created.id, /^batch_[0-9a-f]{32}$/);
    assert.equal(created.status, 'validating');
    assert.deepEqual(created.metadata, { job: 'nightly' });

    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.request_counts, { total: 28, completed: 26, failed: 2 });
    assert.ok(batch.in_progress_at >= batch.created_at && batch.completed_at >= batch.finalizing_at);
    assert.equal(batch.model, 'mock-fast');

    const output = await jsonl(client, batch.output_file_id);
    const errors = await jsonl(client, batch.error_file_id);
    const ids = [...output, ...errors].map((l) => l.custom_id).sort();
    assert.deepEqual(ids, lines.map((l) => JSON.parse(l).custom_id).sort(), 'every custom_id exactly once');
    assert.ok(output.every((l) => l.response.status_code === 200 && l.error === null && /^batch_req_/.test(l.id)));
    assert.ok(output.some((l) => l.custom_id === 'flaky'), 'a transient failure was retried to success');
    assert.deepEqual(errors.map((l) => [l.custom_id, l.response.status_code]).sort(), [['bad-request', 400], ['down', 500]]);

    // Each answer is the one the same request gets interactively (the simulator is deterministic).
    const direct = await client.chat.completions.create({ model: 'mock-fast', messages: [{ role: 'user', content: 'item 3 [[sim tokens=6]]' }] });
    assert.equal(output.find((l) => l.custom_id === 'ok-3').response.body.choices[0].message.content, direct.choices[0].message.content);

    // Spend grew by exactly the output files' usage at half price (failed attempts used no tokens), plus the direct call.
    const prompt = output.reduce((s, l) => s + l.response.body.usage.prompt_tokens, 0);
    const completion = output.reduce((s, l) => s + l.response.body.usage.completion_tokens, 0);
    assert.equal(batch.usage.input_tokens, prompt);
    assert.equal(batch.usage.output_tokens, completion);
    const expected = output.reduce((s, l) => s + cost(l.response.body.usage.prompt_tokens, l.response.body.usage.completion_tokens, 0.5), 0)
      + cost(direct.usage.prompt_tokens, direct.usage.completion_tokens, 1);
    const usage = await waitFor(async () => {
      const { body } = await relay.admin('/admin/tenants/t1/usage');
      return body.cost_nanos - before.cost_nanos === expected ? body : false;
    }, { what: 'usage to include the batch', timeoutMs: 5000 }).catch(async () => (await relay.admin('/admin/tenants/t1/usage')).body);
    assert.equal(usage.cost_nanos - before.cost_nanos, expected);
    assert.equal((await relay.settledQuota('t1')).in_flight, 0);
  });

  test('a bad input file fails the batch with per-line errors before any call', async () => {
    const client = relay.client();
    const input = await upload(client, [
      line('a', 'fine'), 'not json', line('a', 'duplicate id'),
      JSON.stringify({ custom_id: 'u', method: 'POST', url: '/v1/embeddings', body: { model: 'mock-fast', input: 'x' } }),
      line('s', 'streams are refused', { stream: true }),
    ]);
    const before = (await relay.admin('/admin/tenants/t1/usage')).body;
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'failed');
    assert.ok(batch.failed_at);
    assert.deepEqual(batch.errors.data.map((e) => [e.code, e.line]), [
      ['invalid_json_line', 2], ['duplicate_custom_id', 3], ['mismatched_url', 4], ['invalid_body', 5],
    ]);
    assert.equal((await relay.admin('/admin/tenants/t1/usage')).body.requests, before.requests);
  });

  test('bad create requests are refused with the parameter named', async () => {
    const client = relay.client();
    const input = await upload(client, [line('a', 'x')]);
    await assert.rejects(client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '1h' }),
      (err) => err instanceof BadRequestError && err.param === 'completion_window');
    await assert.rejects(client.batches.create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' }),
      (err) => err instanceof BadRequestError && err.param === 'input_file_id');
    await assert.rejects(client.batches.create({ input_file_id: input.id, endpoint: '/v1/images/generations', completion_window: '24h' }),
      (err) => err instanceof BadRequestError && err.param === 'endpoint');
    await assert.rejects(client.batches.create({
      input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { n: 1 },
    }), (err) => err instanceof BadRequestError && err.param === 'metadata');
  });

  test('cancelling stops new items and ends cancelled with partial results', async () => {
    const client = relay.client();
    const lines = [];
    for (let i = 0; i < 60; i++) lines.push(line(`slow-${i}`, `slow ${i} [[sim ttft=150 tokens=2]]`));
    const input = await upload(client, lines);
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await client.batches.retrieve(created.id)).request_counts.completed > 0, { what: 'some items to complete' });
    const cancelling = await client.batches.cancel(created.id);
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.status));
    assert.ok(cancelling.cancelling_at);

    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'cancelled');
    assert.ok(batch.request_counts.completed > 0 && batch.request_counts.completed < 60, `completed ${batch.request_counts.completed}`);
    const output = batch.output_file_id ? await jsonl(client, batch.output_file_id) : [];
    const errors = await jsonl(client, batch.error_file_id);
    assert.equal(output.length, batch.request_counts.completed);
    assert.equal(output.length + errors.length, 60, 'every custom_id once');
    assert.ok(errors.every((l) => l.response === null && l.error.code === 'batch_cancelled'));
    await assert.rejects(client.batches.cancel('batch_00000000000000000000000000000000'), NotFoundError);
  });

  test('subscribers of batch:{id} receive its progress and then its final Batch object', async () => {
    const client = relay.client();
    const lines = [];
    for (let i = 0; i < 30; i++) lines.push(line(`p-${i}`, `progress ${i} [[sim ttft=30 tokens=2]]`));
    const input = await upload(client, lines);
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const channel = `batch:${created.id}`;

    const res = await fetch(`${relay.baseURL}/streams/${channel}/token`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.t1}` } });
    assert.equal(res.status, 200);
    const { token } = await res.json();
    const other = await fetch(`${relay.baseURL}/streams/${channel}/token`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.t2}` } });
    assert.equal(other.status, 404, 'another tenant cannot subscribe to this batch');

    const connection = await connectHub(`${relay.origin}/hubs/streams`, token);
    try {
      const messages = await collectStream(connection, 'Subscribe', channel, 0);
      const last = messages.at(-1);
      assert.equal(last.type, 'completed');
      const final = JSON.parse(last.data);
      assert.equal(final.id, created.id);
      assert.equal(final.status, 'completed');
      assert.deepEqual(final.request_counts, { total: 30, completed: 30, failed: 0 });
      assert.ok(messages.slice(0, -1).every((m) => m.type === 'progress'), 'progress entries before the end');
      assert.ok(messages.length >= 2);
      const sequences = messages.map((m) => m.sequence);
      assert.deepEqual(sequences, [...sequences].sort((x, y) => x - y));
      const counts = messages.slice(0, -1).map((m) => JSON.parse(m.data).request_counts.completed);
      assert.deepEqual(counts, [...counts].sort((x, y) => x - y), 'progress only moves forward');
    } finally {
      await connection.stop();
    }
  });

  test('listing pages newest first, and another tenant sees none of it', async () => {
    const client = relay.client();
    const seen = [];
    for await (const batch of client.batches.list({ limit: 2 })) seen.push(batch);
    assert.ok(seen.length >= 3);
    assert.deepEqual(seen.map((b) => b.created_at), [...seen.map((b) => b.created_at)].sort((a, b) => b - a));
    assert.equal(new Set(seen.map((b) => b.id)).size, seen.length);

    const admin = await relay.admin('/admin/tenants/t1/batches?limit=100');
    assert.equal(admin.status, 200);
    assert.deepEqual(admin.body.data.map((b) => b.id), seen.map((b) => b.id), 'admins see the tenant\'s batches as it does');
    assert.equal((await relay.admin(`/admin/tenants/t1/batches/${seen[0].id}`)).body.status, seen[0].status);
    assert.equal((await relay.admin('/admin/tenants/t1/batches', KEYS.t1)).status, 403);
    assert.equal((await relay.admin('/admin/tenants/t2/batches')).body.data.length, 0);

    const other = relay.client(KEYS.t2);
    await assert.rejects(other.batches.retrieve(seen[0].id), NotFoundError);
    await assert.rejects(other.batches.cancel(seen[0].id), NotFoundError);
    const page = await other.batches.list();
    assert.equal(page.data.length, 0);
    await assert.rejects(other.files.content(seen[0].output_file_id ?? seen[0].input_file_id), NotFoundError);
  });
});

describe('batch expiry', () => {
  let short;
  before(async () => {
    short = await startRelay({ env: { Relay__Batches__CompletionWindowSeconds: '1', Relay__Batches__ChunkSize: '5' } });
  });
  after(() => short?.stop());

  test('items not run within the completion window end as batch_expired', async () => {
    // t3 may make 2 requests a minute and files and batch calls count too: the upload and the create fill the
    // window, so every item waits for capacity until the one-second completion window closes. The batch is
    // watched through the admin API, and the limit lifted once it ended, to read its files.
    const client = short.client(KEYS.t3);
    const lines = [];
    for (let i = 0; i < 20; i++) lines.push(line(`late-${i}`, `late ${i}`));
    const input = await upload(client, lines);
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => ['completed', 'failed', 'expired', 'cancelled'].includes((await short.admin(`/admin/tenants/t3/batches/${created.id}`)).body.status),
      { timeoutMs: 30_000, intervalMs: 50, what: `batch ${created.id} to finish` });
    const lifted = await fetch(`${short.origin}/admin/tenants/t3`, {
      method: 'PATCH', headers: { authorization: `Bearer ${short.adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ requests_per_minute: null }),
    });
    assert.equal(lifted.status, 200);
    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'expired');
    assert.ok(batch.expired_at);
    const errors = await jsonl(client, batch.error_file_id);
    const output = batch.output_file_id ? await jsonl(client, batch.output_file_id) : [];
    assert.ok(errors.length > 0 && errors.every((l) => l.error.code === 'batch_expired' && l.response === null));
    assert.equal(output.length + errors.length, 20);
    assert.deepEqual(batch.request_counts, { total: 20, completed: output.length, failed: errors.length });
  });
});

// Unused import guard: OpenAI is the SDK these tests exercise through relay.client().
void OpenAI;

describe('poison batches', () => {
  let own;
  before(async () => {
    own = await startRelay({ env: { Relay__Batches__MaxTaskAttempts: '3' } });
  });
  after(() => own?.stop());

  const raw = (customId, content) =>
    `{"custom_id":"${customId}","method":"POST","url":"/v1/chat/completions","body":{"model":"mock-fast","messages":[{"role":"user","content":"${content}"}]}}`;

  test('a line no reader can read fails its batch at once, naming the line, and another tenant is not held up', async () => {
    const poisoner = own.client(KEYS.t2);
    const files = [
      Buffer.from('{"custom_id":"a","custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"mock-fast","messages":[{"role":"user","content":"x"}]}}\n'),
      Buffer.from(raw('fine', 'x') + '\n' + raw('surrogate', '\\ud800') + '\n'),
      Buffer.concat([Buffer.from(raw('ff', 'a') + '\n'), Buffer.from(raw('ff2', 'a#')).map((b) => (b === 0x23 ? 0xff : b)), Buffer.from('\n')]),
      Buffer.from(raw('fine', 'x').replace('"messages"', '"max_tokens":1e400,"messages"') + '\n'),
    ];
    const expectedLine = [1, 2, 2, 1];
    const poisoned = [];
    for (let round = 0; round < 3; round++) {
      for (const content of files) {
        const input = await poisoner.files.create({ file: await toFile(content, 'poison.jsonl'), purpose: 'batch' });
        poisoned.push(await poisoner.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
      }
    }

    const client = own.client();
    const input = await upload(client, [line('one', 'hello'), line('two', 'there')]);
    const normal = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await finished(client, normal.id, 15_000);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 2, completed: 2, failed: 0 });

    for (const [i, created] of poisoned.entries()) {
      const batch = await finished(poisoner, created.id, 15_000);
      assert.equal(batch.status, 'failed', JSON.stringify(batch));
      assert.equal(batch.errors.data[0].line, expectedLine[i % files.length], JSON.stringify(batch.errors));
      assert.ok(batch.errors.data[0].message.length > 0);
    }
  });
});
