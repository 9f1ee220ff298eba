// Issue 13 through the official SDK: /v1/models lists and retrieves a route the moment it exists (part 4),
// parameters OpenAI would refuse are BadRequestError with the right param (part 7), and a model is refused on
// the endpoint it does not serve (part 8), in a batch file too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError, NotFoundError } from 'openai';
import { ADMIN_KEY, KEYS, expectError, startRelay } from './harness.mjs';
import { batchEnd, jsonlFile, uploadLines } from './batch-helpers.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

const ask = [{ role: 'user', content: 'hi' }];

async function adminWrite(method, pathname, body) {
  const res = await fetch(`${relay.origin}${pathname}`, {
    method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function listIds(key) {
  const ids = [];
  for await (const model of relay.client(key).models.list()) ids.push(model.id);
  return ids;
}

describe('models: every callable name is listed', () => {
  test('a route created a moment ago is in models.list and models.retrieve, and gone once deleted', async () => {
    await expectError(relay.client().models.retrieve('smart'), NotFoundError, { status: 404, code: 'model_not_found' });
    const put = await adminWrite('PUT', '/admin/routes/smart', { targets: [{ model: 'mock-fast' }] });
    assert.equal(put.status, 200, JSON.stringify(put.body));

    assert.ok((await listIds(KEYS.t1)).includes('smart'));
    const model = await relay.client().models.retrieve('smart');
    assert.deepEqual({ id: model.id, object: model.object }, { id: 'smart', object: 'model' });
    assert.ok(Number.isInteger(model.created));
    assert.equal(typeof model.owned_by, 'string');
    const chat = await relay.client().chat.completions.create({ model: 'smart', messages: ask });
    assert.equal(chat.object, 'chat.completion');

    // t2 may use mock-embed only: the route's name is not allowed, so it is neither listed nor callable.
    assert.deepEqual(await listIds(KEYS.t2), ['mock-embed']);
    await expectError(relay.client(KEYS.t2).models.retrieve('smart'), NotFoundError, { status: 404 });

    assert.equal((await adminWrite('DELETE', '/admin/routes/smart')).status, 200);
    assert.ok(!(await listIds(KEYS.t1)).includes('smart'));
  });

  test('aliases are listed too', async () => {
    assert.ok((await listIds(KEYS.t1)).includes('gpt-4o-mini'));
  });
});

describe('parameters are validated as OpenAI validates them', () => {
  const cases = [
    [{ temperature: 'hot' }, 'temperature', 'invalid_type', "Invalid type for 'temperature': expected a decimal, but got a string instead."],
    [{ temperature: 3.5 }, 'temperature', 'decimal_above_max_value', "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3.5 instead."],
    [{ top_p: -1 }, 'top_p', 'decimal_below_min_value'],
    [{ n: 1.5 }, 'n', 'invalid_type'],
    [{ logprobs: true, top_logprobs: 21 }, 'top_logprobs', 'integer_above_max_value'],
    [{ response_format: { type: 'json_schema', json_schema: { schema: {} } } }, 'response_format.json_schema.name', 'missing_required_parameter'],
    [{ tools: [{ type: 'function', function: { name: 'not valid!' } }] }, 'tools[0].function.name', 'invalid_value'],
    [{ messages: [{ role: 'user' }] }, 'messages[0].content', 'missing_required_parameter'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id', 'missing_required_parameter'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'max' } }] }] },
      'messages[0].content[0].image_url.detail', 'invalid_value'],
  ];
  for (const [fields, param, code, message] of cases) {
    for (const stream of [false, true]) {
      test(`${JSON.stringify(fields)}${stream ? ' (streamed)' : ''} is BadRequestError with param ${param}`, async () => {
        const err = await expectError(
          relay.client().chat.completions.create({ model: 'mock-fast', messages: ask, stream, ...fields }),
          BadRequestError, { status: 400, param, code },
        );
        assert.equal(err.type, 'invalid_request_error');
        if (message) assert.equal(err.error.message, message);
      });
    }
  }

  test('the legal edges pass: temperature 0 and 2, top_logprobs 20 with logprobs', async () => {
    for (const fields of [{ temperature: 0 }, { temperature: 2 }, { logprobs: true, top_logprobs: 20 }]) {
      const chat = await relay.client().chat.completions.create({ model: 'mock-fast', messages: ask, ...fields });
      assert.equal(chat.object, 'chat.completion');
    }
  });

  test('embeddings parameters too', async () => {
    await expectError(relay.client().embeddings.create({ model: 'mock-embed', input: 'x', dimensions: 0 }),
      BadRequestError, { status: 400, param: 'dimensions', code: 'integer_below_min_value' });
  });
});

describe('a model serves one endpoint', () => {
  test('embeddings with a chat model, chat with an embeddings model: BadRequestError naming the model', async () => {
    const embed = await expectError(relay.client().embeddings.create({ model: 'mock-fast', input: 'x' }),
      BadRequestError, { status: 400, param: 'model', code: 'model_not_supported' });
    assert.match(embed.error.message, /not allowed to generate embeddings/);
    const chat = await expectError(relay.client().chat.completions.create({ model: 'mock-embed', messages: ask }),
      BadRequestError, { status: 400, param: 'model', code: 'model_not_supported' });
    assert.match(chat.error.message, /not a chat model/);
    await expectError(relay.client().chat.completions.create({ model: 'mock-embed', messages: ask, stream: true }),
      BadRequestError, { status: 400, param: 'model' });
  });

  test('a batch: a line with a bad parameter fails the file naming line and param; a line whose model serves the other endpoint fails alone', async () => {
    const client = relay.client();
    const bad = await uploadLines(client, [
      JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: 'mock-fast', messages: ask } }),
      JSON.stringify({ custom_id: 'b', method: 'POST', url: '/v1/chat/completions', body: { model: 'mock-fast', messages: ask, temperature: 9 } }),
    ]);
    const failed = await batchEnd(client, (await client.batches.create({ input_file_id: bad.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).id);
    assert.equal(failed.status, 'failed');
    assert.deepEqual(failed.errors.data.map((e) => [e.line, e.param]), [[2, 'body.temperature']]);

    const mixed = await uploadLines(client, [
      JSON.stringify({ custom_id: 'ok', method: 'POST', url: '/v1/embeddings', body: { model: 'mock-embed', input: 'x' } }),
      JSON.stringify({ custom_id: 'chat-model', method: 'POST', url: '/v1/embeddings', body: { model: 'mock-fast', input: 'x' } }),
    ]);
    const done = await batchEnd(client, (await client.batches.create({ input_file_id: mixed.id, endpoint: '/v1/embeddings', completion_window: '24h' })).id);
    assert.equal(done.status, 'completed');
    assert.deepEqual([done.request_counts.completed, done.request_counts.failed], [1, 1]);
    const [error] = await jsonlFile(client, done.error_file_id);
    assert.equal(error.custom_id, 'chat-model');
    assert.equal(error.response.status_code, 400);
    assert.equal(error.response.body.error.param, 'model');
  });

  test('a route mixing chat and embeddings targets is refused at PUT', async () => {
    const r = await adminWrite('PUT', '/admin/routes/mixed', { targets: [{ model: 'mock-fast' }, { model: 'mock-embed' }] });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.param, 'targets');
  });
});
