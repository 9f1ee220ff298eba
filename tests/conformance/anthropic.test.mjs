// The anthropic provider through the official openai SDK: the relay translates OpenAI requests to
// Anthropic's Messages API (MockUpstream's Anthropic mode) and the answers back, and the SDK must not be
// able to tell. MockUpstream answers with the simulator's words, so the in-process mock-fast model is the
// reference for text and prompt counts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { collect, expectError, simulatorPromptTokens, startRelay } from './harness.mjs';

const MODEL = 'claude-fast';
const UPSTREAM_MODEL = 'claude-mock-1';

let relay;
before(async () => {
  relay = await startRelay({
    env: ({ mockPort, upstreamKey }) => ({
      Relay__Providers__claude__Type: 'anthropic',
      Relay__Providers__claude__BaseUrl: `http://127.0.0.1:${mockPort}`,
      Relay__Providers__claude__ApiKey: upstreamKey,
      'Relay__Models__claude-fast__Provider': 'claude',
      'Relay__Models__claude-fast__UpstreamModel': UPSTREAM_MODEL,
      'Relay__Models__claude-fast__InputPerMTok': '3',
      'Relay__Models__claude-fast__OutputPerMTok': '15',
      // Long enough that an upstream error (after any retries by the relay) is still an HTTP status on a
      // stream, not an error event after a committed 200.
      Relay__Requests__HeartbeatSeconds: '10',
      // A route whose first target cannot express some requests (n: 2) and whose second can.
      'Relay__Routes__claude-first__Targets__0__Model': MODEL,
      'Relay__Routes__claude-first__Targets__1__Model': 'mock-fast',
    }),
  });
});
after(() => relay?.stop());

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
  },
}];

describe('anthropic provider: text', () => {
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say five words please [[sim tokens=5]]' },
  ];

  test('a plain completion reads as OpenAI\'s, with the simulator\'s words and prompt count', async () => {
    const client = relay.client();
    const completion = await client.chat.completions.create({ model: MODEL, messages });
    const reference = await client.chat.completions.create({ model: 'mock-fast', messages });

    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, UPSTREAM_MODEL);
    assert.ok(Number.isInteger(completion.created) && completion.created > 1_600_000_000);
    const [choice] = completion.choices;
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.message.content, reference.choices[0].message.content);
    assert.equal(completion.usage.prompt_tokens, simulatorPromptTokens(messages));
    assert.equal(completion.usage.completion_tokens, 5);
    assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + 5);
  });

  test('a stream\'s deltas equal the plain text, one finish reason, no usage unless asked', async () => {
    const client = relay.client();
    const plain = await client.chat.completions.create({ model: MODEL, messages });
    const { chunks, content } = await collect(await client.chat.completions.create({ model: MODEL, messages, stream: true }));

    assert.equal(content, plain.choices[0].message.content);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.id, chunks[0].id);
      assert.ok(chunk.usage == null, `unexpected usage: ${JSON.stringify(chunk)}`);
    }
    const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f != null);
    assert.deepEqual(finishes, ['stop']);
  });

  test('include_usage ends with choices [] and the plain usage, cached input included', async () => {
    const client = relay.client();
    const cached = [{ role: 'user', content: 'Cached prompt here [[sim tokens=4 cache_read=3 cache_write=2]]' }];
    const plain = await client.chat.completions.create({ model: MODEL, messages: cached });
    const { chunks, content } = await collect(await client.chat.completions.create({
      model: MODEL, messages: cached, stream: true, stream_options: { include_usage: true },
    }));

    assert.equal(content, plain.choices[0].message.content);
    assert.equal(plain.usage.prompt_tokens, simulatorPromptTokens(cached));
    assert.equal(plain.usage.prompt_tokens_details.cached_tokens, 3);
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.deepEqual(chunks.at(-1).usage, plain.usage);
    assert.equal(chunks.filter((c) => c.usage != null).length, 1);
  });

  test('max_tokens ends with finish_reason "length"', async () => {
    const completion = await relay.client().chat.completions.create({
      model: MODEL, max_tokens: 3, messages: [{ role: 'user', content: 'A long story [[sim tokens=20]]' }],
    });
    assert.equal(completion.choices[0].finish_reason, 'length');
    assert.equal(completion.usage.completion_tokens, 3);
  });
});

describe('anthropic provider: tool calls', () => {
  const messages = [{ role: 'user', content: 'Weather in Paris? [[sim tokens=0]]' }];

  test('a plain tool call has a JSON-string arguments the SDK caller can parse, and its result is accepted', async () => {
    const client = relay.client();
    const completion = await client.chat.completions.create({ model: MODEL, messages, tools });
    const [choice] = completion.choices;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const [call] = choice.message.tool_calls;
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'relay', days: 42 });

    const answer = await client.chat.completions.create({
      model: MODEL,
      tools,
      // The tool result and the next user text become one Anthropic user turn; the later directive wins.
      messages: [...messages, choice.message, { role: 'tool', tool_call_id: call.id, content: '18C and sunny' },
        { role: 'user', content: 'Thanks [[sim tokens=3]]' }],
    });
    assert.equal(answer.choices[0].finish_reason, 'stop');
    assert.equal(answer.choices[0].message.content.split(' ').length, 3);
  });

  test('a streamed tool call assembles (by the SDK\'s own stream helper) into the same call', async () => {
    const client = relay.client();
    const stream = client.chat.completions.stream({ model: MODEL, messages, tools, tool_choice: 'required' });
    const final = await stream.finalChatCompletion();
    const [choice] = final.choices;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    assert.match(choice.message.tool_calls[0].id, /^toolu_/);
    assert.equal(choice.message.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), { city: 'relay', days: 42 });

    // And by hand: id and name once, on the first delta of index 0; arguments in fragments after it.
    const { chunks } = await collect(await client.chat.completions.create({ model: MODEL, messages, tools, stream: true }));
    const deltas = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    assert.ok(deltas.length >= 2, `expected the call in fragments, got ${JSON.stringify(deltas)}`);
    assert.ok(deltas.every((d) => d.index === 0));
    assert.equal(deltas[0].function.name, 'get_weather');
    assert.ok(deltas.slice(1).every((d) => d.id === undefined && d.function.name === undefined));
    assert.deepEqual(JSON.parse(deltas.map((d) => d.function.arguments).join('')), { city: 'relay', days: 42 });
  });
});

describe('anthropic provider: OpenAI parameters in Anthropic\'s ranges', () => {
  // MockUpstream refuses what the real Messages API refuses (temperature > 1, whitespace-only stop sequences,
  // fields it does not know), so a 200 here proves the translation, not a lenient mock.
  const messages = [{ role: 'user', content: 'Parameters please [[sim tokens=4]]' }];
  const mockCalls = async () => (await (await fetch(`http://127.0.0.1:${relay.mockPort}/mock/stats`)).json()).calls;

  test('the mock refuses temperature 1.5 and stop ["\\n"] sent verbatim, with Anthropic\'s error shape', async () => {
    for (const [field, value] of [['temperature', 1.5], ['stop_sequences', ['\n']], ['frequency_penalty', 1]]) {
      const res = await fetch(`http://127.0.0.1:${relay.mockPort}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'upstream-secret', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: UPSTREAM_MODEL, max_tokens: 5, messages, [field]: value }),
      });
      const body = await res.json();
      assert.equal(res.status, 400, `${field}: ${JSON.stringify(body)}`);
      assert.equal(body.type, 'error');
      assert.equal(body.error.type, 'invalid_request_error');
      assert.match(body.error.message, new RegExp(`^${field}:`));
    }
  });

  test('temperature 1.5, top_p and stop ["\\n"] are mapped (capped, kept, dropped), plain and streamed', async () => {
    const client = relay.client();
    const params = { model: MODEL, messages, temperature: 1.5, top_p: 1, stop: ['\n', 'END'] };
    const plain = await client.chat.completions.create(params);
    assert.equal(plain.choices[0].finish_reason, 'stop');
    assert.equal(plain.usage.completion_tokens, 4);
    const { content } = await collect(await client.chat.completions.create({ ...params, stream: true }));
    assert.equal(content, plain.choices[0].message.content);
    // stop as a lone whitespace string, and temperature 2 (OpenAI's maximum)
    const edge = await client.chat.completions.create({ model: MODEL, messages, temperature: 2, stop: ' ' });
    assert.equal(edge.choices[0].message.content, plain.choices[0].message.content);
  });

  test('sampling and bookkeeping fields Anthropic lacks are dropped, not sent', async () => {
    const completion = await relay.client().chat.completions.create({
      model: MODEL, messages, presence_penalty: 0.5, frequency_penalty: 0.5, logit_bias: { 50256: -100 }, seed: 7,
      store: false, metadata: { purpose: 'test' }, service_tier: 'auto', reasoning_effort: 'low', logprobs: false,
      user: 'user-1', max_completion_tokens: 3, n: 1, response_format: { type: 'text' }, parallel_tool_calls: true,
    });
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.usage.completion_tokens, 3);
    assert.equal(completion.choices[0].finish_reason, 'length');
  });

  test('what Anthropic cannot express is a 400 naming the parameter, with no upstream call and nothing reserved', async () => {
    const client = relay.client();
    const refused = [
      [{ n: 2 }, 'n'],
      [{ logprobs: true, top_logprobs: 2 }, 'logprobs'],
      [{ response_format: { type: 'json_object' } }, 'response_format'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } } }, 'response_format'],
      [{ modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' } }, 'modalities'],
      [{ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, 'messages[0].content[0].type'],
      [{ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] }, 'messages[0].content[0].file.file_id'],
    ];
    const before = await mockCalls();
    for (const [extra, param] of refused) {
      for (const stream of [false, true]) {
        const error = await expectError(
          client.chat.completions.create({ model: MODEL, messages, ...extra, stream }), OpenAI.BadRequestError, { status: 400, param });
        assert.equal(error.type, 'invalid_request_error');
      }
    }
    assert.equal(await mockCalls(), before, 'a refused request reached the upstream');
    const quota = await relay.settledQuota();
    assert.equal(quota.reserved_nanos, 0);
  });

  test('in a synchronous /v1/batch each item is mapped or refused alike, the refusal naming its parameter', async () => {
    const res = await fetch(`${relay.baseURL}/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${relay.keys.t1}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        requests: [
          { custom_id: 'n2', model: MODEL, messages, n: 2 },
          { custom_id: 'mapped', model: MODEL, messages, temperature: 1.5, stop: ['\n'], seed: 3 },
          { custom_id: 'fallback', model: 'claude-first', messages, n: 2 },
        ],
      }),
    });
    assert.equal(res.status, 200);
    const { results } = await res.json();
    assert.deepEqual(results.map((r) => [r.custom_id, r.status]), [['n2', 400], ['mapped', 200], ['fallback', 200]]);
    assert.equal(results[0].error.param, 'requests[0].n'); // the sync batch names the item
    assert.equal(results[1].response.usage.completion_tokens, 4);
    assert.equal(results[2].response.choices.length, 2);
  });

  test('a route falls back from an Anthropic target that cannot express the request to one that can', async () => {
    const { data, response } = await relay.client().chat.completions
      .create({ model: 'claude-first', messages, n: 2 }).withResponse();
    assert.equal(response.headers.get('x-relay-model'), 'mock-fast');
    assert.deepEqual(data.choices.map((c) => c.index), [0, 1]);
    // Without n: 2 the Anthropic target answers.
    const { response: direct } = await relay.client().chat.completions.create({ model: 'claude-first', messages }).withResponse();
    assert.equal(direct.headers.get('x-relay-model'), MODEL);
  });
});

describe('anthropic provider: errors and metering', () => {
  test('an overloaded upstream (529) is a 503 with Retry-After for the SDK', async () => {
    const messages = [{ role: 'user', content: 'busy [[sim error=529 retry_after=1]]' }];
    for (const stream of [false, true]) {
      const error = await expectError(
        relay.client().chat.completions.create({ model: MODEL, messages, stream }), OpenAI.InternalServerError, { status: 503 });
      assert.equal(error.headers.get('retry-after'), '1');
      assert.equal(error.type, 'server_error');
    }
  });

  test('embeddings are refused with a 400 naming the reason', async () => {
    const error = await expectError(relay.client().embeddings.create({ model: MODEL, input: 'x' }), OpenAI.BadRequestError, { status: 400 });
    assert.match(error.message, /embeddings/);
  });

  test('the tenant is billed the translated usage', async () => {
    await relay.settledQuota();
    const { body } = await relay.admin('/admin/tenants/t1/usage');
    const claude = body.by_model[MODEL];
    assert.ok(claude.requests >= 8, JSON.stringify(claude));
    assert.ok(claude.prompt_tokens > 0 && claude.completion_tokens > 0, JSON.stringify(claude));
    assert.equal(body.estimated_requests, 0);
  });
});
