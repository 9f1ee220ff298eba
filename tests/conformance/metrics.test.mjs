// GET /metrics (Prometheus text) on real silo processes, parsed here: the counters move by exactly the traffic the
// official SDK, the completions hub and fan-out subscribers made, and on a 3-silo cluster each silo reports what it
// served, the sum over silos equalling the tenant's ledger in Redis.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, KEYS, collectStream, connectHub, startRelay, waitFor } from './harness.mjs';
import { startCluster } from './cluster-harness.mjs';

/** Samples of a Prometheus text scrape: [{ name, labels, value }]; throws on a line it cannot read. */
function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]);
    if (Number.isNaN(value) && match[3] !== 'NaN') throw new Error(`not a number: ${line}`);
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function sum(samples, name, labels = {}) {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

async function scrape(origin, key = ADMIN_KEY) {
  const res = await fetch(`${origin}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return parsePrometheus(text);
}

describe('metrics on one silo', () => {
  let relay;
  before(async () => {
    relay = await startRelay();
  });
  after(() => relay?.stop());

  test('without the admin key /metrics is a 401 in OpenAI\'s envelope', async () => {
    for (const key of [null, KEYS.t1]) {
      const res = await fetch(`${relay.origin}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error.code, 'invalid_api_key');
    }
  });

  test('SDK calls, hub completions, refusals and fan-out subscribers move the counters by exactly what was sent', async () => {
    const before = await scrape(relay.origin);
    const usageBefore = (await relay.admin('/admin/tenants/t1/usage')).body;
    const client = relay.client();
    const messages = [{ role: 'user', content: 'count me [[sim tokens=6]]' }];

    // 3 plain and 2 streamed SDK calls, 1 embedding, 1 completion over the hub.
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'mock-fast', messages });
    for (let i = 0; i < 2; i++) {
      for await (const chunk of await client.chat.completions.create({ model: 'mock-fast', messages, stream: true })) void chunk;
    }
    await client.embeddings.create({ model: 'mock-embed', input: 'embed me' });
    const hub = await connectHub(`${relay.origin}/hubs/completions`, KEYS.t1);
    try {
      await collectStream(hub, 'Complete', { model: 'mock-fast', messages });
    } finally {
      await hub.stop();
    }

    // t3 may make 2 requests a minute: the third is refused for its RPM.
    const t3 = relay.client(KEYS.t3);
    await t3.chat.completions.create({ model: 'mock-fast', messages });
    await t3.chat.completions.create({ model: 'mock-fast', messages });
    await assert.rejects(t3.chat.completions.create({ model: 'mock-fast', messages }), (err) => err.status === 429);

    // A fan-out stream with one subscriber, watched while it runs.
    const res = await fetch(`${relay.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.t1}`, 'content-type': 'application/json', 'x-relay-fanout': 'true' },
      body: JSON.stringify({ model: 'mock-fast', stream: true, messages: [{ role: 'user', content: 'watched [[sim tokens=30 interval=30]]' }] }),
    });
    assert.equal(res.status, 200);
    const streamId = res.headers.get('x-relay-stream-id');
    const grant = await (await fetch(`${relay.baseURL}/streams/${streamId}/token`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.t1}` } })).json();
    const subscriber = await connectHub(`${relay.origin}/hubs/streams`, grant.token);
    let received;
    try {
      const following = collectStream(subscriber, 'Subscribe', streamId, 1);
      const open = await waitFor(async () => sum(await scrape(relay.origin), 'relay_fanout_subscribers', { relay_tenant: 't1' }) === 1,
        { what: 'one open subscription in the metrics' });
      assert.ok(open);
      [received] = await Promise.all([following, res.text()]);
    } finally {
      await subscriber.stop();
    }

    // 3 + 2 + 1 + 1 + 1 (the fan-out call) on t1, all settled and booked.
    const usage = await relay.usageWithRequests(usageBefore.requests + 8);
    const after = await waitFor(async () => {
      const samples = await scrape(relay.origin);
      return sum(samples, 'relay_requests_total', { relay_tenant: 't1' }) - sum(before, 'relay_requests_total', { relay_tenant: 't1' }) >= 8
        && sum(samples, 'relay_fanout_subscribers', { relay_tenant: 't1' }) === 0 ? samples : false;
    }, { what: 'the metrics to count the 8 calls and the subscription to end' });
    const delta = (name, labels) => sum(after, name, labels) - sum(before, name, labels);

    assert.equal(delta('relay_requests_total', { relay_tenant: 't1' }), 8);
    assert.equal(delta('relay_requests_total', { relay_tenant: 't1', relay_stream: 'true' }), 2 + 1 + 1); // SDK, hub, fan-out
    assert.equal(delta('relay_requests_total', { relay_tenant: 't1', gen_ai_operation_name: 'embeddings', relay_model: 'mock-embed' }), 1);
    assert.equal(delta('relay_requests_total', { relay_tenant: 't3', http_response_status_code: '200' }), 2);
    assert.equal(delta('relay_admission_refusals_total', { relay_tenant: 't3', relay_refusal_reason: 'rpm' }), 1);
    assert.equal(delta('relay_tokens_total', { relay_tenant: 't1', gen_ai_token_type: 'input' }), usage.prompt_tokens - usageBefore.prompt_tokens);
    assert.equal(delta('relay_tokens_total', { relay_tenant: 't1', gen_ai_token_type: 'output' }), usage.completion_tokens - usageBefore.completion_tokens);
    assert.ok(Math.abs(delta('relay_cost_usd_total', { relay_tenant: 't1' }) - (usage.cost_nanos - usageBefore.cost_nanos) / 1e9) < 1e-9);
    assert.equal(delta('gen_ai_server_time_to_first_token_seconds_count', { relay_model: 'mock-fast' }), 2 + 1 + 1); // streamed: SDK, hub, fan-out
    assert.equal(delta('relay_fanout_messages_total', { relay_tenant: 't1' }), received.length);
    assert.ok(received.length >= 31, `${received.length} messages: 30 tokens and the end`);
  });
});

describe('metrics on a 3-silo cluster', () => {
  let cluster;
  before(async () => {
    cluster = await startCluster({ tenants: { mc: { key: 'sk-metrics-cluster-4f2b9e7a1c6d3e8b5a' } } });
  });
  after(() => cluster?.stop());

  test('each silo reports the calls it served, and the sum over silos equals the ledger in Redis', async () => {
    const perSilo = [4, 2, 3];
    for (const [i, count] of perSilo.entries()) {
      const client = cluster.silos[i].client('sk-metrics-cluster-4f2b9e7a1c6d3e8b5a');
      for (let n = 0; n < count; n++) {
        await client.chat.completions.create({ model: 'remote-fast', messages: [{ role: 'user', content: `silo ${i} call ${n}` }], stream: n % 2 === 1 });
      }
    }

    const ledger = await waitFor(async () => {
      const records = await cluster.ledger('mc');
      return records.length === 9 ? records : false;
    }, { what: 'nine ledger records' });
    const scrapes = await Promise.all(cluster.silos.map((s) => scrape(s.origin)));
    assert.deepEqual(scrapes.map((s) => sum(s, 'relay_requests_total', { relay_tenant: 'mc' })), perSilo);
    const total = (name, labels) => scrapes.reduce((t, s) => t + sum(s, name, labels), 0);
    assert.equal(total('relay_tokens_total', { relay_tenant: 'mc', gen_ai_token_type: 'input' }), ledger.reduce((t, r) => t + r.prompt_tokens, 0));
    assert.equal(total('relay_tokens_total', { relay_tenant: 'mc', gen_ai_token_type: 'output' }), ledger.reduce((t, r) => t + r.completion_tokens, 0));
    assert.ok(Math.abs(total('relay_cost_usd_total', { relay_tenant: 'mc' }) - ledger.reduce((t, r) => t + r.cost_nanos, 0) / 1e9) < 1e-9);
    assert.ok(scrapes.every((s) => s.some((x) => x.name.startsWith('orleans_'))), 'every silo reports Orleans\' meter');
  });
});
