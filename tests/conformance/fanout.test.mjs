// Token fan-out to SignalR subscribers, with the official @microsoft/signalr client: a completion asked for
// fan-out (x-relay-fanout: true) is relayed to its SSE caller and, token by token, to every subscriber of
// its stream; subscribers hold only short-lived subscribe tokens, never tenant keys.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { KEYS, collectStream, connectHub, startRelay, waitFor } from './harness.mjs';

// The WebSocket library @microsoft/signalr itself uses in Node, for a raw client that can stop reading.
const WebSocket = createRequire(createRequire(import.meta.url).resolve('@microsoft/signalr'))('ws');

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

/** Starts a streamed completion with fan-out; resolves at its headers with the stream id and the pending SSE text. */
async function startFanOut(prompt, key = KEYS.t1, on = relay, extra = {}) {
  const res = await fetch(`${on.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-relay-fanout': 'true' },
    body: JSON.stringify({ model: 'mock-fast', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: prompt }], ...extra }),
  });
  assert.equal(res.status, 200);
  const streamId = res.headers.get('x-relay-stream-id');
  assert.match(streamId, /^strm_[0-9a-f]{32}$/);
  return { streamId, sse: res.text() };
}

/** The text an SSE body carried: its concatenated delta contents. */
function sseContent(body) {
  return body.split('\n').filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6))).map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
}

async function subscribeToken(streamId, key = KEYS.t1, on = relay) {
  const res = await fetch(`${on.baseURL}/streams/${streamId}/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json() };
}

const connect = (token, on = relay) => connectHub(`${on.origin}/hubs/streams`, token);
const follow = collectStream;

/** Checks that sequences run one by one from `from`. */
function assertConsecutive(messages, from) {
  assert.deepEqual(messages.map((m) => m.sequence), messages.map((_, i) => from + i));
}

describe('SignalR fan-out', () => {
  test('a live subscriber gets exactly the SSE text, in order, then the finish reason and usage', async () => {
    const { streamId, sse } = await startFanOut('watch me [[sim tokens=20 interval=20]]');
    const { status, body } = await subscribeToken(streamId);
    assert.equal(status, 200);
    const connection = await connect(body.token);
    try {
      const [messages, text] = await Promise.all([follow(connection, 'Subscribe', streamId, 1), sse]);
      const tokens = messages.filter((m) => m.type === 'token');
      assert.equal(tokens.map((m) => m.data).join(''), sseContent(text));
      assert.deepEqual(messages.map((m) => m.sequence), messages.map((_, i) => i + 1));
      const end = messages.at(-1);
      assert.equal(end.type, 'completed');
      assert.equal(JSON.parse(end.data).finish_reason, 'stop');
      assert.equal(JSON.parse(end.data).usage.completion_tokens, 20);
    } finally {
      await connection.stop();
    }
  });

  test('two subscribers, a late joiner and a resumer see one order with no gap or duplicate', async () => {
    const { streamId, sse } = await startFanOut('share me [[sim tokens=15 interval=15]]');
    const { body } = await subscribeToken(streamId);
    const [a, b] = await Promise.all([connect(body.token), connect(body.token)]);
    try {
      const [first, second] = await Promise.all([follow(a, 'Subscribe', streamId, 1), follow(b, 'Subscribe', streamId, 1), sse]);
      assert.deepEqual(second, first);

      // After the end: a late joiner replays it all; a reconnecting one resumes from its next sequence.
      const late = await follow(a, 'Subscribe', streamId, 1);
      assert.deepEqual(late, first);
      const resumed = await follow(b, 'Subscribe', streamId, 6);
      assert.deepEqual(resumed, first.slice(5));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('SubscribeBatched delivers the same messages, gathered into arrays when they were waiting', async () => {
    const { streamId, sse } = await startFanOut('batch me [[sim tokens=30 interval=5]]');
    const { body } = await subscribeToken(streamId);
    const [a, b] = await Promise.all([connect(body.token), connect(body.token)]);
    try {
      const [single, live] = await Promise.all([follow(a, 'Subscribe', streamId, 1), follow(b, 'SubscribeBatched', streamId, 1), sse]);
      assert.ok(live.every((item) => Array.isArray(item) && item.length > 0));
      assert.deepEqual(live.flat(), single);

      // Replaying a finished stream: everything is waiting at once, so it comes in one or a few frames.
      const replay = await follow(b, 'SubscribeBatched', streamId, 1);
      assert.deepEqual(replay.flat(), single);
      assert.ok(replay.length < single.length / 4, `${replay.length} frames for ${single.length} messages`);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('tokens are refused for another tenant, a forged token, or a stream they do not grant', async () => {
    const { streamId, sse } = await startFanOut('private [[sim tokens=3]]');
    await sse;
    assert.equal((await subscribeToken(streamId, KEYS.t2)).status, 404, "another tenant's stream does not exist for it");

    const forged = `${Buffer.from(JSON.stringify(['t1', streamId, '9999999999'])).toString('base64url')}.AAAA`;
    await assert.rejects(async () => {
      const connection = await connect(forged);
      await follow(connection, 'Subscribe', streamId, 1).finally(() => connection.stop());
    }, 'a forged token neither connects nor subscribes');

    const other = await startFanOut('another stream [[sim tokens=3]]');
    await other.sse;
    const { body } = await subscribeToken(other.streamId);
    const connection = await connect(body.token);
    try {
      await assert.rejects(follow(connection, 'Subscribe', streamId, 1), /does not grant/);
      const own = await follow(connection, 'Subscribe', other.streamId, 1);
      assert.equal(own.at(-1).type, 'completed');
    } finally {
      await connection.stop();
    }
  });

  test('a failed completion ends its stream with a failed message', async () => {
    const { streamId, sse } = await startFanOut('[[sim mid_error=2]]');
    await sse;
    const { body } = await subscribeToken(streamId);
    const connection = await connect(body.token);
    try {
      const messages = await follow(connection, 'Subscribe', streamId, 1);
      assert.equal(messages.filter((m) => m.type === 'token').length, 2);
      assert.equal(messages.at(-1).type, 'failed');
      assert.equal(JSON.parse(messages.at(-1).data).error.code, 'upstream_error_mid_stream');
      await waitFor(async () => (await relay.admin('/admin/tenants/t1/quota')).body.in_flight === 0, { what: 'the slot to be free' });
    } finally {
      await connection.stop();
    }
  });

  test('a subscriber that stops reading is told it lagged, the caller is not held back, and it resumes from there', async () => {
    // Enough output to fill the paused socket's buffers and then the subscriber's own (1,024 entries).
    const total = 60_000;
    // The simulator stops at the output cap, as a provider would: ask for the whole flood.
    const { streamId, sse } = await startFanOut(`flood [[sim tokens=${total} interval=0 ttft=300]]`, KEYS.t1, relay, { max_tokens: total });
    const { body } = await subscribeToken(streamId);

    // A raw SignalR client (JSON protocol over a WebSocket) that subscribes, then stops reading its socket.
    const ws = new WebSocket(`${relay.origin.replace('http', 'ws')}/hubs/streams?access_token=${encodeURIComponent(body.token)}`);
    let received = '';
    ws.on('message', (data) => { received += data.toString(); });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send('{"protocol":"json","version":1}\u001e');
    await waitFor(() => received.includes('\u001e'), { what: 'the handshake response' });
    ws.send(`${JSON.stringify({ type: 4, invocationId: '1', target: 'Subscribe', arguments: [streamId, 1] })}\u001e`);
    await waitFor(() => received.includes('"type":2'), { what: 'the first stream item' });
    ws._socket.pause();
    const connection = await connect(body.token);
    try {
      // The caller gets its whole answer while the subscriber reads nothing.
      assert.ok(sseContent(await sse).length > 0);

      ws._socket.resume();
      const records = await waitFor(() => {
        const parsed = received.split('\u001e').filter(Boolean).slice(1).map((r) => JSON.parse(r));
        return parsed.some((r) => r.type === 3) ? parsed : false;
      }, { timeoutMs: 30_000, what: 'the slow subscription to end' });
      const items = records.filter((r) => r.type === 2).map((r) => r.item);
      const lagged = items.at(-1);
      assert.equal(lagged.type, 'lagged', `the last item is ${JSON.stringify(lagged)}`);
      assert.ok(lagged.sequence < total, 'it was dropped before the end');
      assertConsecutive(items.slice(0, -1), 1);
      assert.equal(lagged.sequence, items.at(-2).sequence);
      assert.equal(JSON.parse(lagged.data).last_sequence, lagged.sequence);
      assert.equal(records.find((r) => r.type === 3).error, undefined, 'the subscription ends normally');

      // Subscribing again from the next sequence replays the rest from the store, to the end. The caller's answer may
      // be complete before the last of the flood reached the stream (appends trail the caller), so a resumed reader on
      // a busy machine can lag again on the live tail: then it resumes once more, from its own lagged notice.
      const resumed = [];
      for (let from = lagged.sequence + 1, round = 0; round < 10; round++) {
        const part = await follow(connection, 'Subscribe', streamId, from);
        const end = part.at(-1);
        if (end?.type !== 'lagged') {
          resumed.push(...part);
          break;
        }
        assert.equal(end.sequence, part.at(-2)?.sequence ?? from - 1, 'a lagged notice names the last entry it delivered');
        resumed.push(...part.slice(0, -1));
        from = end.sequence + 1;
      }
      assertConsecutive(resumed, lagged.sequence + 1);
      assert.equal(resumed.length, total + 1 - lagged.sequence);
      assert.equal(resumed.at(-1).type, 'completed');
    } finally {
      ws.terminate();
      await connection.stop();
    }
  });
});


describe('SignalR fan-out: trimmed history', () => {
  // A relay that keeps only five entries per stream.
  let small;
  before(async () => {
    small = await startRelay({ env: { Relay__Streams__MaxEntries: '5' } });
  });
  after(() => small?.stop());

  test('a subscriber asking from before the oldest retained entry gets a gap message, then the rest', async () => {
    const { streamId, sse } = await startFanOut('trim me [[sim tokens=30 interval=0]]', KEYS.t1, small);
    await sse;
    const { body } = await subscribeToken(streamId, KEYS.t1, small);
    const connection = await connect(body.token, small);
    try {
      const messages = await follow(connection, 'Subscribe', streamId, 1);
      const [gap, ...rest] = messages;
      assert.equal(gap.type, 'gap');
      assert.ok(gap.sequence > 1, `the first retained entry is ${gap.sequence}`);
      assert.deepEqual(JSON.parse(gap.data), { requested_sequence: 1, first_sequence: gap.sequence });
      assertConsecutive(rest, gap.sequence);
      assert.equal(rest.at(-1).type, 'completed');
      assert.equal(rest.at(-1).sequence, 31);
    } finally {
      await connection.stop();
    }
  });
});
