// Plain (non-streaming) chat completions through the SDK, via the in-process simulator and via
// the openai provider to MockUpstream, plus the headers every /v1 response must carry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { REQUEST_ID, simulatorPromptTokens, startRelay } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

const GO_DURATION = /^(\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$/;

for (const model of ['mock-fast', 'remote-fast']) {
  describe(`chat.completions.create via ${model}`, () => {
    test('returns a chat.completion whose usage matches the prompt and the requested output', async () => {
      const messages = [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: `Say five words please [[sim tokens=5]]` },
      ];
      const completion = await relay.client().chat.completions.create({ model, messages });

      assert.equal(completion.object, 'chat.completion');
      assert.equal(typeof completion.id, 'string');
      assert.ok(Number.isInteger(completion.created) && completion.created > 1_600_000_000);
      assert.equal(completion.choices.length, 1);
      const [choice] = completion.choices;
      assert.equal(choice.index, 0);
      assert.equal(choice.message.role, 'assistant');
      assert.equal(choice.finish_reason, 'stop');
      assert.equal(typeof choice.message.content, 'string');
      assert.ok(choice.message.content.length > 0);
      // Usage passes through from the (simulated) model, not the relay's own estimate.
      assert.deepEqual(
        { prompt: completion.usage.prompt_tokens, completion: completion.usage.completion_tokens },
        { prompt: simulatorPromptTokens(messages), completion: 5 },
      );
      assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens);
    });

    test('honours max_tokens with finish_reason "length"', async () => {
      const completion = await relay.client().chat.completions.create({
        model,
        max_tokens: 3,
        messages: [{ role: 'user', content: 'Tell me a long story [[sim tokens=20]]' }],
      });
      assert.equal(completion.choices[0].finish_reason, 'length');
      assert.equal(completion.usage.completion_tokens, 3);
    });
  });
}

describe('chat routing', () => {
  test('alias gpt-4o-mini answers as mock-fast does for the same prompt', async () => {
    const messages = [{ role: 'user', content: 'Alias check, deterministic output' }];
    const viaAlias = await relay.client().chat.completions.create({ model: 'gpt-4o-mini', messages });
    const direct = await relay.client().chat.completions.create({ model: 'mock-fast', messages });
    assert.equal(viaAlias.object, 'chat.completion');
    assert.ok(viaAlias.choices[0].message.content.length > 0);
    assert.equal(viaAlias.choices[0].message.content, direct.choices[0].message.content);
  });

  test('the remote provider answers as the in-process simulator does for the same prompt', async () => {
    const messages = [{ role: 'user', content: 'Provider parity check' }];
    const local = await relay.client().chat.completions.create({ model: 'mock-fast', messages });
    const remote = await relay.client().chat.completions.create({ model: 'remote-fast', messages });
    assert.equal(remote.choices[0].message.content, local.choices[0].message.content);
    assert.deepEqual(remote.usage, local.usage);
  });
});

describe('response headers', () => {
  const messages = [{ role: 'user', content: 'headers [[sim tokens=1]]' }];

  test('x-request-id is req_<32 hex>, exposed by the SDK, and unique per request', async () => {
    const client = relay.client();
    const first = await client.chat.completions.create({ model: 'mock-fast', messages }).withResponse();
    const second = await client.chat.completions.create({ model: 'mock-fast', messages }).withResponse();
    assert.match(first.request_id, REQUEST_ID);
    assert.equal(first.response.headers.get('x-request-id'), first.request_id);
    assert.match(second.request_id, REQUEST_ID);
    assert.notEqual(first.request_id, second.request_id);
  });

  test('x-ratelimit-* headers are present and remaining requests decrease between calls', async () => {
    const client = relay.client();
    const { response: r1 } = await client.chat.completions.create({ model: 'mock-fast', messages }).withResponse();
    const { response: r2 } = await client.chat.completions.create({ model: 'mock-fast', messages }).withResponse();
    for (const dimension of ['requests', 'tokens']) {
      for (const r of [r1, r2]) {
        assert.match(r.headers.get(`x-ratelimit-limit-${dimension}`) ?? '', /^\d+$/, `limit-${dimension}`);
        assert.match(r.headers.get(`x-ratelimit-remaining-${dimension}`) ?? '', /^\d+$/, `remaining-${dimension}`);
        assert.match(r.headers.get(`x-ratelimit-reset-${dimension}`) ?? '', GO_DURATION, `reset-${dimension}`);
      }
    }
    // The configured limits of tenant t1 (see harness.mjs).
    assert.equal(r1.headers.get('x-ratelimit-limit-requests'), '100000');
    assert.equal(r1.headers.get('x-ratelimit-limit-tokens'), '100000000');
    const remaining = (r) => Number(r.headers.get('x-ratelimit-remaining-requests'));
    assert.ok(remaining(r2) < remaining(r1), `remaining went ${remaining(r1)} -> ${remaining(r2)}`);
    assert.ok(remaining(r1) < 100_000);
  });
});
