// Token fan-out to SignalR subscribers, with the official @microsoft/signalr client: a completion asked for
// fan-out (x-relay-fanout: true) is relayed to its SSE caller and, token by token, to every subscriber of
// its stream; subscribers hold only short-lived subscribe tokens, never tenant keys.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { KEYS, startRelay, waitFor } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

/** Starts a streamed completion with fan-out; resolves at its headers with the stream id and the pending SSE text. */
async function startFanOut(prompt, key = KEYS.t1) {
  const res = await fetch(`${relay.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-relay-fanout': 'true' },
    body: JSON.stringify({ model: 'mock-fast', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: prompt }] }),
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

async function subscribeToken(streamId, key = KEYS.t1) {
  const res = await fetch(`${relay.baseURL}/streams/${streamId}/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json() };
}

async function connect(token) {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${relay.origin}/hubs/streams`, { accessTokenFactory: () => token })
    .configureLogging(signalR.LogLevel.None)
    .build();
  await connection.start();
  return connection;
}

/** Every message of one subscription, until the stream's terminal message (or an error). */
function follow(connection, method, ...args) {
  return new Promise((resolve, reject) => {
    const messages = [];
    connection.stream(method, ...args).subscribe({
      next: (message) => messages.push(message),
      complete: () => resolve(messages),
      error: (err) => reject(err),
    });
  });
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
});
