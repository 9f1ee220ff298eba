// Streaming chat completions: the SDK must parse the relay's SSE exactly as it parses OpenAI's,
// usage must appear only when asked for, and heartbeats must not disturb the stream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, REQUEST_ID, collect, startRelay } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

for (const model of ['mock-fast', 'remote-fast']) {
  describe(`streaming via ${model}`, () => {
    const messages = [{ role: 'user', content: `Stream me something ${model} [[sim tokens=12]]` }];

    test('concatenated deltas equal the plain completion, in well-formed chunks', async () => {
      const client = relay.client();
      const plain = await client.chat.completions.create({ model, messages });
      const { data: stream, request_id } = await client.chat.completions.create({ model, messages, stream: true }).withResponse();
      const { chunks, content } = await collect(stream);

      assert.match(request_id, REQUEST_ID);
      assert.equal(content, plain.choices[0].message.content);
      assert.ok(chunks.length >= 2);
      for (const chunk of chunks) {
        assert.equal(chunk.object, 'chat.completion.chunk');
        assert.equal(chunk.id, chunks[0].id, 'every chunk carries the same id');
        // Without include_usage, nobody asked for usage: no chunk may carry it.
        assert.ok(chunk.usage == null, `unexpected usage on a chunk: ${JSON.stringify(chunk)}`);
      }
      const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f != null);
      assert.deepEqual(finishes, [plain.choices[0].finish_reason]);
      assert.equal(chunks.at(-1).choices[0]?.finish_reason, plain.choices[0].finish_reason);
    });

    test('include_usage adds one final chunk with choices [] and the plain completion\'s usage', async () => {
      const client = relay.client();
      const plain = await client.chat.completions.create({ model, messages });
      const stream = await client.chat.completions.create({
        model, messages, stream: true, stream_options: { include_usage: true },
      });
      const { chunks, content } = await collect(stream);

      assert.equal(content, plain.choices[0].message.content);
      const last = chunks.at(-1);
      assert.deepEqual(last.choices, []);
      assert.deepEqual(last.usage, plain.usage);
      const withUsage = chunks.filter((c) => c.usage != null);
      assert.equal(withUsage.length, 1, 'only the final chunk carries usage');
    });

    test('max_tokens ends the stream with finish_reason "length"', async () => {
      const stream = await relay.client().chat.completions.create({
        model, messages, stream: true, max_tokens: 2, stream_options: { include_usage: true },
      });
      const { chunks } = await collect(stream);
      const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f != null);
      assert.deepEqual(finishes, ['length']);
      assert.equal(chunks.at(-1).usage.completion_tokens, 2);
    });
  });
}

describe('heartbeats', () => {
  // Heartbeats are every 0.2 s (harness); a 700 ms time-to-first-token forces several before data.
  const messages = [{ role: 'user', content: 'Slow start please [[sim ttft=700 tokens=4]]' }];

  test('a slow first token is preceded by ": keep-alive" comment lines on the wire', async () => {
    const res = await fetch(`${relay.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.t1}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-fast', messages, stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(res.headers.get('x-request-id') ?? '', REQUEST_ID);
    const lines = (await res.text()).split('\n');
    const firstData = lines.findIndex((l) => l.startsWith('data:'));
    const firstHeartbeat = lines.findIndex((l) => l === ': keep-alive');
    assert.ok(firstHeartbeat >= 0, 'no ": keep-alive" line at all');
    assert.ok(firstHeartbeat < firstData, 'the heartbeat came after the first data line');
    assert.equal(lines.filter((l) => l.startsWith('data:')).at(-1), 'data: [DONE]');
    // Every data payload other than [DONE] is JSON (the SDK throws on anything else).
    for (const line of lines.filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')) {
      assert.doesNotThrow(() => JSON.parse(line.slice(6)), line);
    }
  });

  test('the SDK parses a stream with heartbeats into the same content as the plain call', async () => {
    const client = relay.client();
    const plain = await client.chat.completions.create({ model: 'mock-fast', messages });
    const { content } = await collect(await client.chat.completions.create({ model: 'mock-fast', messages, stream: true }));
    assert.equal(content, plain.choices[0].message.content);
    assert.ok(content.length > 0);
  });
});
