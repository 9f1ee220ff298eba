// Completions started over SignalR (/hubs/completions) with the official @microsoft/signalr client: the
// same admission, limits, metering and settling as POST /v1/chat/completions, chunks as stream items.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, collectStream, connectHub, startRelay, waitFor } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

const connect = (key) => connectHub(`${relay.origin}/hubs/completions`, key);

/** Every item of one Complete call. */
const complete = (connection, request) => collectStream(connection, 'Complete', request);

const text = (items) => items.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');

describe('completions over the hub', () => {
  test('streams the same text as HTTP, with include_usage honoured, and meters the call', async () => {
    const messages = [{ role: 'user', content: 'hub and http say the same [[sim tokens=12]]' }];
    const start = (await relay.admin('/admin/tenants/t1/usage')).body;
    const plain = await relay.client().chat.completions.create({ model: 'mock-fast', messages });
    // The plain call is booked just after its answer (the settle overlaps the response): wait for it, or it would
    // count as one of the hub's calls below.
    const before = await relay.usageWithRequests(start.requests + 1);

    const connection = await connect(KEYS.t1);
    try {
      const items = await complete(connection, { model: 'mock-fast', messages, stream_options: { include_usage: true } });
      assert.equal(text(items), plain.choices[0].message.content);
      assert.ok(items.every((c) => c.object === 'chat.completion.chunk'), 'every item is a chunk');
      const last = items.at(-1);
      assert.deepEqual(last.choices, []);
      assert.equal(last.usage.completion_tokens, 12);

      const withoutUsage = await complete(connection, { model: 'mock-fast', messages });
      assert.equal(text(withoutUsage), plain.choices[0].message.content);
      assert.ok(withoutUsage.every((c) => !c.usage), 'no usage chunk unless asked for');
    } finally {
      await connection.stop();
    }

    const usage = await relay.usageWithRequests(before.requests + 2);
    assert.equal(usage.completion_tokens - before.completion_tokens, 24);
  });

  test('a connection without a valid tenant key is refused', async () => {
    await assert.rejects(connect(KEYS.bad), /401/);
    await assert.rejects(connect(''), /401/);
  });

  test('refusals and bad requests arrive as one error item with the HTTP status', async () => {
    const limited = await connect(KEYS.t3); // 2 requests a minute
    try {
      const request = { model: 'mock-fast', messages: [{ role: 'user', content: 'count me' }] };
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await complete(limited, request));
      assert.ok(results[0].length > 1 && results[1].length > 1);
      const [refusal] = results[2];
      assert.equal(results[2].length, 1);
      assert.equal(refusal.status, 429);
      assert.equal(refusal.error.type, 'requests');
      assert.equal(refusal.error.code, 'rate_limit_exceeded');
      assert.ok(refusal.retry_after_ms > 0);
    } finally {
      await limited.stop();
    }

    const connection = await connect(KEYS.t1);
    try {
      const [unknown] = await complete(connection, { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.error.code, 'model_not_found');
      const [invalid] = await complete(connection, { model: 'mock-fast', messages: 'not a list' });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.error.param, 'messages');
      const [upstream] = await complete(connection, { model: 'mock-fast', messages: [{ role: 'user', content: '[[sim error=503]]' }] });
      assert.equal(upstream.status, 503);
    } finally {
      await connection.stop();
    }
  });

  test('a caller that cancels mid-stream frees its slot and is billed for what it got', async () => {
    const before = (await relay.admin('/admin/tenants/t1/usage')).body;
    const connection = await connect(KEYS.t1);
    try {
      const received = [];
      let subscription;
      await new Promise((resolve, reject) => {
        subscription = connection.stream('Complete', {
          model: 'mock-fast', messages: [{ role: 'user', content: 'a long one [[sim tokens=500 interval=20]]' }],
        }).subscribe({
          next: (item) => {
            received.push(item);
            if (received.length === 3) resolve();
          },
          complete: () => reject(new Error('the stream ended before it was cancelled')),
          error: reject,
        });
      });
      subscription.dispose();
      const quota = await relay.settledQuota('t1');
      assert.equal(quota.in_flight, 0);
      const usage = await relay.usageWithRequests(before.requests + 1);
      const billed = usage.completion_tokens - before.completion_tokens;
      assert.ok(billed >= 3 && billed < 500, `billed ${billed} tokens for a cancelled stream`);
    } finally {
      await connection.stop();
    }
  });
});
