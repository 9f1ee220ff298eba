// POST /v1/batch (the relay's synchronous batch, not OpenAI's file-based Batch API): plain fetch, since no SDK
// has this call. Each result must carry what the official SDK gets for the same request sent alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, REQUEST_ID, startRelay } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

function postBatch(body, key = KEYS.t1) {
  return fetch(`${relay.baseURL}/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const CHAT_LOCAL = { model: 'mock-fast', messages: [{ role: 'user', content: 'Batch me locally [[sim tokens=6]]' }] };
const CHAT_REMOTE = { model: 'remote-fast', max_tokens: 4, messages: [{ role: 'user', content: 'Batch me through the openai provider' }] };
const EMBED = { model: 'mock-embed', input: ['first text', 'second text'] };

describe('POST /v1/batch', () => {
  test('3 mixed requests come back in order, each as the SDK answers the same request alone', async () => {
    const res = await postBatch({
      requests: [{ custom_id: 'local', ...CHAT_LOCAL }, { custom_id: 'embed', ...EMBED }, { ...CHAT_REMOTE }],
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(res.headers.get('x-request-id') ?? '', REQUEST_ID);
    const body = await res.json();
    assert.equal(body.object, 'batch.result');
    assert.deepEqual(body.results.map((r) => [r.index, r.custom_id, r.status, r.error]), [
      [0, 'local', 200, null],
      [1, 'embed', 200, null],
      [2, null, 200, null],
    ]);
    for (const result of body.results) {
      assert.match(result.request_id, REQUEST_ID);
      assert.ok(typeof result.latency_ms === 'number' && result.latency_ms >= 0);
    }
    assert.equal(new Set(body.results.map((r) => r.request_id)).size, 3);

    const client = relay.client();
    for (const [i, request] of [[0, CHAT_LOCAL], [2, CHAT_REMOTE]]) {
      const alone = await client.chat.completions.create(request);
      const batched = body.results[i].response;
      assert.equal(batched.object, 'chat.completion');
      assert.equal(batched.choices[0].message.content, alone.choices[0].message.content);
      assert.equal(batched.choices[0].finish_reason, alone.choices[0].finish_reason);
      assert.deepEqual(batched.usage, alone.usage);
    }

    const alone = await client.embeddings.create({ ...EMBED, encoding_format: 'float' });
    const batched = body.results[1].response;
    assert.equal(batched.object, 'list');
    assert.deepEqual(batched.usage, alone.usage);
    assert.deepEqual(batched.data.map((d) => d.embedding), alone.data.map((d) => d.embedding));

    // Billed like single calls: 3 in the batch and 3 made alone.
    const usage = await relay.usageWithRequests(6);
    assert.equal(usage.requests, 6);
    const quota = await relay.settledQuota();
    assert.equal(quota.in_flight, 0);
  });

  test('a refused item carries its error; the others still run', async () => {
    const res = await postBatch({
      requests: [{ ...CHAT_LOCAL, stream: true }, { model: 'no-such-model', input: 'x' }, EMBED],
    });
    assert.equal(res.status, 200);
    const { results } = await res.json();
    assert.deepEqual(results.map((r) => r.status), [400, 404, 200]);
    assert.deepEqual(results[0].error, {
      message: results[0].error.message, type: 'invalid_request_error', param: 'requests[0].stream', code: 'invalid_value',
    });
    assert.equal(results[1].error.code, 'model_not_found');
    assert.equal(results[1].error.param, 'requests[1].model');
    assert.equal(results[0].response, null);
  });

  test('a bad key is a 401 OpenAI error envelope', async () => {
    const res = await postBatch({ requests: [CHAT_LOCAL] }, KEYS.bad);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('x-request-id') ?? '', REQUEST_ID);
    const { error } = await res.json();
    assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.code, 'invalid_api_key');
    assert.equal(error.param, null);
  });

  test('a bad envelope is a 400 naming the field', async () => {
    const res = await postBatch({ requests: [CHAT_LOCAL, { messages: CHAT_LOCAL.messages }] });
    assert.equal(res.status, 400);
    const { error } = await res.json();
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.param, 'requests[1].model');
  });
});
