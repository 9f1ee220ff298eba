// The admin API: who may read it, and whether the quota and usage it reports agree with each other
// and with the calls this file made (each test file runs against its own fresh relay).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, collect, simulatorPromptTokens, startRelay } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

// Prices configured in harness.mjs, in nano-dollars per token ($/MTok * 1000).
const NANOS_PER_TOKEN = {
  'mock-fast': { input: 270, output: 1100 },
  'remote-fast': { input: 270, output: 1100 },
  'mock-embed': { input: 20, output: 0 },
};

describe('admin access', () => {
  test('no key is 401, a wrong key is 401, a tenant key is 403', async () => {
    assert.equal((await relay.admin('/admin/tenants/t1/quota', null)).status, 401);
    assert.equal((await relay.admin('/admin/tenants/t1/quota', 'not-the-admin-key')).status, 401);
    const asTenant = await relay.admin('/admin/tenants/t1/quota', KEYS.t1);
    assert.equal(asTenant.status, 403);
    assert.equal(typeof asTenant.body.error.message, 'string');
  });

  test('an unknown tenant is 404 and a malformed month is 400', async () => {
    assert.equal((await relay.admin('/admin/tenants/nobody/quota')).status, 404);
    assert.equal((await relay.admin('/admin/tenants/t1/usage?month=last-month')).status, 400);
  });
});

describe('quota and usage accounting', () => {
  // What each call should cost, from the simulator's documented token rule and the configured prices.
  const expected = { requests: 0, prompt: 0, completion: 0, cost: 0 };
  const record = (model, prompt, completion) => {
    expected.requests += 1;
    expected.prompt += prompt;
    expected.completion += completion;
    expected.cost += prompt * NANOS_PER_TOKEN[model].input + completion * NANOS_PER_TOKEN[model].output;
  };
  const chat = (tokens, text) => [{ role: 'user', content: `${text} [[sim tokens=${tokens}]]` }];

  test('a mix of calls is metered exactly, and quota agrees with usage', async () => {
    const client = relay.client();

    const plainMessages = chat(4, 'plain local call');
    const plain = await client.chat.completions.create({ model: 'mock-fast', messages: plainMessages });
    assert.equal(plain.usage.prompt_tokens, simulatorPromptTokens(plainMessages));
    record('mock-fast', plain.usage.prompt_tokens, plain.usage.completion_tokens);

    const remoteMessages = chat(5, 'plain remote call');
    const remote = await client.chat.completions.create({ model: 'remote-fast', messages: remoteMessages });
    record('remote-fast', remote.usage.prompt_tokens, remote.usage.completion_tokens);

    const usageStream = await collect(await client.chat.completions.create({
      model: 'mock-fast', messages: chat(6, 'stream with usage'), stream: true, stream_options: { include_usage: true },
    }));
    const streamUsage = usageStream.chunks.at(-1).usage;
    record('mock-fast', streamUsage.prompt_tokens, streamUsage.completion_tokens);

    // No usage reaches this caller, but the relay must still meter what the model reported.
    const quietMessages = chat(3, 'stream without usage');
    await collect(await client.chat.completions.create({ model: 'remote-fast', messages: quietMessages, stream: true }));
    record('remote-fast', simulatorPromptTokens(quietMessages), 3);

    const embedding = await client.embeddings.create({ model: 'mock-embed', input: ['one two three', 'four five'] });
    record('mock-embed', embedding.usage.prompt_tokens, 0);

    const usage = await relay.usageWithRequests(expected.requests);
    const quota = await relay.settledQuota('t1');
    assert.deepEqual(
      { requests: usage.requests, prompt: usage.prompt_tokens, completion: usage.completion_tokens, cost: usage.cost_nanos },
      expected,
    );
    assert.equal(usage.estimated_requests, 0, 'every call here reported usage upstream');
    assert.equal(usage.by_ending.completed, expected.requests);
    assert.deepEqual(Object.fromEntries(Object.entries(usage.by_model).map(([m, u]) => [m, u.requests])),
      { 'mock-fast': 2, 'remote-fast': 2, 'mock-embed': 1 });
    assert.ok(quota.spent_nanos > 0);
    assert.equal(quota.spent_nanos, usage.cost_nanos);
    assert.equal(quota.requests_in_window, expected.requests);
  });

  test('a model that reports no usage is still metered, flagged as estimated', async () => {
    const before = (await relay.admin('/admin/tenants/t1/usage')).body;
    const answer = await relay.client().chat.completions.create({ model: 'remote-fast', messages: chat(4, 'no usage [[sim usage=none]]') });
    assert.ok(answer.choices[0].message.content.length > 0);
    const now = await relay.usageWithRequests(before.requests + 1);
    const quota = await relay.settledQuota('t1');
    assert.equal(now.requests - before.requests, 1);
    assert.equal(now.estimated_requests - before.estimated_requests, 1);
    assert.ok(now.prompt_tokens > before.prompt_tokens, 'the estimate counts the prompt');
    assert.ok(now.completion_tokens > before.completion_tokens, 'the estimate counts the output');
    assert.equal(quota.spent_nanos, now.cost_nanos);
  });
});
