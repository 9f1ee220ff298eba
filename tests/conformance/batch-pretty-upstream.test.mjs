// Issue 12 review: an upstream that answers pretty-printed JSON, as api.openai.com does (its bodies span lines).
// A batch's output and error files are JSONL: every line must be one JSON object, whatever the upstream's layout.
// The upstream here is a small HTTP server of this test (the OpenAI chat completion shape, 2-space indented).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startRelay } from './harness.mjs';
import { batchEnd, chatLine, uploadLines } from './batch-helpers.mjs';

let relay;
let upstream;
before(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const request = JSON.parse(body || '{}');
      const content = request.messages?.at(-1)?.content ?? '';
      if (content.includes('fail')) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'bad request, as OpenAI words it', type: 'invalid_request_error', param: null, code: null } }, null, 2) + '\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id: 'chatcmpl-pretty', object: 'chat.completion', created: 1, model: 'pretty-model',
        choices: [{ index: 0, message: { role: 'assistant', content: 'line one\nline two' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
      }, null, 2) + '\n');
    });
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const port = upstream.address().port;
  relay = await startRelay({
    env: {
      Relay__Providers__pretty__Type: 'openai',
      Relay__Providers__pretty__BaseUrl: `http://127.0.0.1:${port}/v1`,
      Relay__Providers__pretty__ApiKey: 'upstream-pretty',
      'Relay__Models__pretty-model__Provider': 'pretty',
      'Relay__Models__pretty-model__InputPerMTok': '1',
      'Relay__Models__pretty-model__OutputPerMTok': '1',
    },
  });
});
after(async () => {
  await relay?.stop();
  upstream?.close();
});

describe('a pretty-printing upstream', () => {
  test('output and error files stay one JSON object per line, and the batch completes', async (t) => {
    const client = relay.client();
    const lines = [
      ...Array.from({ length: 5 }, (_, i) => chatLine(`ok-${i}`, 'pretty-model', `hello ${i}`)),
      ...Array.from({ length: 3 }, (_, i) => chatLine(`bad-${i}`, 'pretty-model', `fail ${i}`)),
    ];
    const input = await uploadLines(client, lines, 'pretty.jsonl');
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await batchEnd(client, created.id, { timeoutMs: 60_000 });
    t.diagnostic(`${batch.status} ${JSON.stringify(batch.request_counts)} ${JSON.stringify(batch.errors)}`);
    assert.equal(batch.status, 'completed');
    for (const [name, id, expected] of [['output', batch.output_file_id, 5], ['error', batch.error_file_id, 3]]) {
      const text = id ? await (await client.files.content(id)).text() : '';
      const fileLines = text.split('\n').filter(Boolean);
      t.diagnostic(`${name} file: ${fileLines.length} lines; first: ${JSON.stringify(fileLines[0]?.slice(0, 120))}`);
      assert.equal(fileLines.length, expected, `${name} file has one line per item`);
      for (const l of fileLines) assert.doesNotThrow(() => JSON.parse(l), `${name} line parses: ${l.slice(0, 80)}`);
    }
  });
});
