// Issue 13, parts 1 and 6, with the official openai SDK: an upstream that frames its stream in any legal SSE way
// (multi-line data, event/id/retry fields, comments, CRLF, CR, "data:" without a space, empty data, no final blank
// line, a BOM) streams through the relay without the SDK throwing; an upstream 200 that is not a completion is a
// 502 the SDK raises (or, on a route, a fallback the SDK never notices). The upstream is this test's own server:
// the last user message names the variant it answers with.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import OpenAI from 'openai';
import { collect, startRelay } from './harness.mjs';
import { batchEnd, chatLine, jsonlFile, uploadLines } from './batch-helpers.mjs';

const chunk = (content, indent) => JSON.stringify({
  id: 'chatcmpl-wire', object: 'chat.completion.chunk', created: 1, model: 'raw',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
}, null, indent);
const multiLine = (content, eol = '\n', prefix = 'data: ') =>
  chunk(content, 2).split('\n').map((l) => prefix + l + eol).join('') + eol;

const STREAMS = {
  'multi-line data': `${multiLine('Hello')}${multiLine(' world')}data: [DONE]\n\n`,
  'event, id, retry and comments': `: hi\nevent: message\nid: 1\nretry: 3000\ndata: ${chunk('Hello')}\n\n: ping\n\nid: 2\ndata: ${chunk(' world')}\n\ndata: [DONE]\n\n`,
  CRLF: `${multiLine('Hello', '\r\n')}data: ${chunk(' world')}\r\n\r\ndata: [DONE]\r\n\r\n`,
  CR: `${multiLine('Hello', '\r')}data: ${chunk(' world')}\r\rdata: [DONE]\r\r`,
  'data: without a space': `${multiLine('Hello', '\n', 'data:')}data:${chunk(' world')}\n\ndata:[DONE]\n\n`,
  'an empty data line': `data:\n\ndata: ${chunk('Hello')}\n\ndata\n\ndata: ${chunk(' world')}\n\ndata: [DONE]\n\n`,
  'no blank line after the last event': `data: ${chunk('Hello')}\n\ndata: ${chunk(' world')}\n\ndata: [DONE]`,
  'a byte order mark': `\uFEFF${multiLine('Hello')}data: ${chunk(' world')}\n\ndata: [DONE]\n\n`,
  'first event an error': `data: {"error":{"message":"You exceeded your current quota.","type":"insufficient_quota"}}\n\n`,
  'first event not JSON': 'data: <html>busy</html>\n\n',
  'error mid-stream': `data: ${chunk('Hi')}\n\ndata: {"error":{"message":"boom","type":"server_error","code":"overloaded"}}\n\n`,
};

const BODIES = {
  'error in a 200': '{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","code":null}}',
  'not JSON': '<html><body>502 Bad Gateway</body></html>',
  'no choices': '{"id":"chatcmpl-x","object":"chat.completion","created":1,"model":"raw"}',
  'empty embeddings': '{"object":"list","data":[],"model":"raw"}',
};

let relay;
let upstream;
let calls = 0;
before(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      calls++;
      const request = JSON.parse(body || '{}');
      const variant = request.messages?.at(-1)?.content ?? request.input;
      if (request.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(STREAMS[variant]);
      } else {
        res.writeHead(200, { 'content-type': variant === 'not JSON' ? 'text/html' : 'application/json' });
        res.end(BODIES[variant]);
      }
    });
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  relay = await startRelay({
    env: {
      Relay__Providers__raw__Type: 'openai',
      Relay__Providers__raw__BaseUrl: `http://127.0.0.1:${upstream.address().port}/v1`,
      Relay__Providers__raw__Resilience__MaxAttempts: '2',
      Relay__Providers__raw__Resilience__BaseDelayMs: '1',
      Relay__Providers__raw__Resilience__MaxDelayMs: '5',
      // Invalid answers count against the upstream's health like any 502: keep the breaker out of these cases.
      Relay__Providers__raw__Resilience__MinimumThroughput: '1000',
      Relay__Batches__MaxAttempts: '1',
      'Relay__Models__raw-chat__Provider': 'raw',
      'Relay__Models__raw-chat__InputPerMTok': '1',
      'Relay__Models__raw-embed__Provider': 'raw',
      'Relay__Models__raw-embed__InputPerMTok': '1',
      'Relay__Routes__chat__Targets__0__Model': 'raw-chat',
      'Relay__Routes__chat__Targets__1__Model': 'mock-fast',
    },
  });
});
after(async () => {
  await relay?.stop();
  upstream?.close();
});

const ask = (variant, model = 'raw-chat', stream = true) =>
  relay.client().chat.completions.create({ model, stream, messages: [{ role: 'user', content: variant }] });

describe('SSE framing through the relay', () => {
  for (const variant of Object.keys(STREAMS).slice(0, 8)) {
    test(`${variant}: the SDK reads every chunk`, async () => {
      const { content } = await collect(await ask(variant));
      assert.equal(content, 'Hello world');
    });
  }
});

describe('an upstream 200 that is not a completion', () => {
  for (const variant of ['error in a 200', 'not JSON', 'no choices']) {
    test(`plain, ${variant}: the SDK raises a 502 upstream_invalid_response, after one retry`, async () => {
      const before = calls;
      const err = await ask(variant, 'raw-chat', false).then(() => null, (e) => e);
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, 502);
      assert.equal(err.code, 'upstream_invalid_response');
      if (variant === 'error in a 200') assert.match(err.message, /You exceeded your current quota/);
      assert.equal(calls - before, 2);
    });
  }

  for (const variant of ['first event an error', 'first event not JSON']) {
    test(`streamed, ${variant}: a 502 before any byte`, async () => {
      const err = await ask(variant).then(() => null, (e) => e);
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, 502);
    });
  }

  test('a route falls back past it, plain and streamed, and the SDK gets a completion', async () => {
    const plain = await ask('error in a 200', 'chat', false);
    assert.ok(plain.choices[0].message.content.length > 0);
    const { content } = await collect(await ask('first event an error', 'chat'));
    assert.ok(content.length > 0);
  });

  test('an error after the first chunk: the SDK raises it with its code, after the text it got', async () => {
    const stream = await ask('error mid-stream');
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    })().then(() => null, (e) => e);
    assert.equal(text, 'Hi');
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.match(err.message, /boom/);
  });

  test('embeddings without embeddings: a 502', async () => {
    const err = await relay.client().embeddings.create({ model: 'raw-embed', input: 'empty embeddings' }).then(() => null, (e) => e);
    assert.equal(err?.status, 502);
    assert.equal(err.code, 'upstream_invalid_response');
  });

  test('the ledger books none of them as completed', async () => {
    const body = await relay.usageWithRequests(17); // 8 framings, 3 + 2 refused, 2 fallbacks, 1 mid-stream, 1 embeddings
    assert.equal(body.by_ending.upstream_error, 6, JSON.stringify(body.by_ending));
    assert.equal(body.by_ending.upstream_error_mid_stream, 1);
    assert.equal(body.by_ending.completed, 8 + 2); // the framing variants and the two fallbacks
  });
});

describe('a batch item answered with a 200 that is not a completion', () => {
  test('fails with the same 502, and its route fallback succeeds', async () => {
    const client = relay.client();
    const input = await uploadLines(client, [chatLine('raw', 'raw-chat', 'error in a 200'), chatLine('routed', 'chat', 'error in a 200')], 'wire.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await batchEnd(client, created.id, { timeoutMs: 60_000 });
    assert.equal(batch.status, 'completed');
    const lines = [...await jsonlFile(client, batch.output_file_id), ...await jsonlFile(client, batch.error_file_id)];
    const byId = Object.fromEntries(lines.map((l) => [l.custom_id, l]));
    assert.equal(byId.raw.response.status_code, 502);
    assert.equal(byId.raw.response.body.error.code, 'upstream_invalid_response');
    assert.match(byId.raw.response.body.error.message, /You exceeded your current quota/);
    assert.equal(byId.routed.response.status_code, 200);
    assert.ok(byId.routed.response.body.choices[0].message.content.length > 0);
  });
});
