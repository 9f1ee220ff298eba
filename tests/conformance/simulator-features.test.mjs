// The simulator behaves like a provider: n choices, tool calls, JSON mode / JSON schema, logprobs and seed,
// plain and streamed, through the relay with the official openai SDK (its stream helpers and runTools too). Each
// test runs against the in-process simulator (mock-fast) and MockUpstream behind the openai provider
// (remote-fast), so the relay's handling is proven on both paths.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, startRelay } from './harness.mjs';

let relay;
before(async () => { relay = await startRelay(); });
after(() => relay?.stop());

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        days: { type: 'integer', minimum: 1, maximum: 7 },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        hourly: { type: 'boolean' },
      },
      required: ['city', 'days', 'unit'],
    },
  },
};
const time = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } },
};

/** The weather arguments are an instance of the schema: exactly its required properties, each of its type. */
function assertWeatherArguments(text) {
  const args = JSON.parse(text);
  assert.deepEqual(Object.keys(args).sort(), ['city', 'days', 'unit']);
  assert.equal(typeof args.city, 'string');
  assert.ok(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7, text);
  assert.equal(args.unit, 'celsius');
}

/** Streamed chunks grouped by choice index: content, finish reasons and tool-call deltas. */
function byChoice(chunks) {
  const choices = new Map();
  for (const chunk of chunks) {
    for (const c of chunk.choices) {
      const entry = choices.get(c.index) ?? { content: '', finishes: [], toolDeltas: [], logprobs: [] };
      entry.content += c.delta?.content ?? '';
      if (c.finish_reason) entry.finishes.push(c.finish_reason);
      entry.toolDeltas.push(...(c.delta?.tool_calls ?? []));
      entry.logprobs.push(...(c.logprobs?.content ?? []));
      choices.set(c.index, entry);
    }
  }
  return choices;
}

for (const model of ['mock-fast', 'remote-fast']) {
  describe(`simulator as a provider (${model})`, () => {
    const user = (text) => [{ role: 'user', content: text }];

    test('n: 2 gives two choices, indexed 0 and 1, plain and streamed, and the usage counts both', async () => {
      const client = relay.client();
      const messages = user('Two answers please [[sim tokens=5]]');
      const plain = await client.chat.completions.create({ model, messages, n: 2 });
      assert.deepEqual(plain.choices.map((c) => c.index), [0, 1]);
      for (const c of plain.choices) {
        assert.equal(c.finish_reason, 'stop');
        assert.equal(c.message.content.split(' ').length, 5);
      }
      assert.notEqual(plain.choices[0].message.content, plain.choices[1].message.content);
      assert.equal(plain.usage.completion_tokens, 10);

      // Choice 0 is the answer a request without n gets.
      const single = await client.chat.completions.create({ model, messages });
      assert.equal(single.choices[0].message.content, plain.choices[0].message.content);

      const { chunks } = await collect(await client.chat.completions.create({
        model, messages, n: 2, stream: true, stream_options: { include_usage: true },
      }));
      const choices = byChoice(chunks);
      assert.deepEqual([...choices.keys()].sort(), [0, 1]);
      for (const [index, entry] of choices) {
        assert.equal(entry.content, plain.choices[index].message.content);
        assert.deepEqual(entry.finishes, ['stop']);
      }
      assert.deepEqual(chunks.at(-1).usage, plain.usage);

      // The SDK's stream helper assembles both choices.
      const final = await client.chat.completions.stream({ model, messages, n: 2 }).finalChatCompletion();
      assert.deepEqual(final.choices.map((c) => c.message.content), plain.choices.map((c) => c.message.content));
    });

    test('a forced tool call (required, or a named function) has schema-valid arguments, plain and streamed', async () => {
      const client = relay.client();
      const messages = user('What is the weather like? [[sim tokens=3]]');
      for (const [tool_choice, name] of [['required', 'get_weather'], [{ type: 'function', function: { name: 'get_time' } }, 'get_time']]) {
        const plain = await client.chat.completions.create({ model, messages, tools: [weather, time], tool_choice });
        const [choice] = plain.choices;
        assert.equal(choice.finish_reason, 'tool_calls');
        assert.equal(choice.message.content, null);
        assert.equal(choice.message.tool_calls.length, 1);
        const [call] = choice.message.tool_calls;
        assert.match(call.id, /^call_/);
        assert.equal(call.type, 'function');
        assert.equal(call.function.name, name);
        if (name === 'get_weather') assertWeatherArguments(call.function.arguments);
        else assert.deepEqual(Object.keys(JSON.parse(call.function.arguments)), ['zone']);

        // Streamed: id, type and name once on the first delta of index 0, then argument fragments.
        const { chunks } = await collect(await client.chat.completions.create({
          model, messages, tools: [weather, time], tool_choice, stream: true, stream_options: { include_usage: true },
        }));
        const { toolDeltas, finishes, content } = byChoice(chunks).get(0);
        assert.equal(content, '');
        assert.deepEqual(finishes, ['tool_calls']);
        assert.ok(toolDeltas.length >= 3, JSON.stringify(toolDeltas));
        assert.ok(toolDeltas.every((d) => d.index === 0));
        assert.equal(toolDeltas[0].function.name, name);
        assert.match(toolDeltas[0].id, /^call_/);
        assert.ok(toolDeltas.slice(1).every((d) => d.id === undefined && d.function.name === undefined));
        assert.equal(toolDeltas.map((d) => d.function.arguments).join(''), call.function.arguments);
        assert.equal(chunks.at(-1).usage.completion_tokens, plain.usage.completion_tokens);
        assert.equal(plain.usage.completion_tokens, toolDeltas.length); // a token a delta: usage matches what was sent

        // The SDK's own stream helper assembles the same call.
        const final = await client.chat.completions.stream({ model, messages, tools: [weather, time], tool_choice }).finalChatCompletion();
        assert.equal(final.choices[0].finish_reason, 'tool_calls');
        assert.equal(final.choices[0].message.tool_calls[0].function.name, name);
        assert.equal(final.choices[0].message.tool_calls[0].function.arguments, call.function.arguments);
      }
    });

    test('tool_choice auto calls the tool the user names, answers in words after the result, none never calls', async () => {
      const client = relay.client();
      const ask = user('Please call get_time for Paris [[sim tokens=4]]');
      const first = await client.chat.completions.create({ model, messages: ask, tools: [weather, time] });
      const [call] = first.choices[0].message.tool_calls;
      assert.equal(call.function.name, 'get_time');

      const after = await client.chat.completions.create({
        model, tools: [weather, time],
        messages: [...ask, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '14:00' }],
      });
      assert.equal(after.choices[0].finish_reason, 'stop');
      assert.equal(after.choices[0].message.tool_calls, undefined);
      assert.ok(after.choices[0].message.content.length > 0);

      const none = await client.chat.completions.create({ model, messages: ask, tools: [weather, time], tool_choice: 'none' });
      assert.equal(none.choices[0].finish_reason, 'stop');
      assert.equal(none.choices[0].message.content.split(' ').length, 4);
    });

    test('parallel calls: every tool the user names, one index each; one with parallel_tool_calls false', async () => {
      const client = relay.client();
      const messages = user('Use get_time and get_weather for Rome [[sim tokens=2]]');
      const plain = await client.chat.completions.create({ model, messages, tools: [weather, time] });
      const calls = plain.choices[0].message.tool_calls;
      assert.deepEqual(calls.map((c) => c.function.name), ['get_weather', 'get_time']); // in the order of tools
      assert.notEqual(calls[0].id, calls[1].id);
      assertWeatherArguments(calls[0].function.arguments);

      const { chunks } = await collect(await client.chat.completions.create({ model, messages, tools: [weather, time], stream: true }));
      const deltas = byChoice(chunks).get(0).toolDeltas;
      assert.deepEqual([...new Set(deltas.map((d) => d.index))], [0, 1]);
      for (const index of [0, 1]) {
        const mine = deltas.filter((d) => d.index === index);
        assert.equal(mine[0].function.name, calls[index].function.name);
        assert.equal(mine.map((d) => d.function.arguments).join(''), calls[index].function.arguments);
      }
      const final = await client.chat.completions.stream({ model, messages, tools: [weather, time] }).finalChatCompletion();
      assert.deepEqual(final.choices[0].message.tool_calls.map((c) => [c.function.name, c.function.arguments]),
        calls.map((c) => [c.function.name, c.function.arguments]));

      const single = await client.chat.completions.create({ model, messages, tools: [weather, time], parallel_tool_calls: false });
      assert.deepEqual(single.choices[0].message.tool_calls.map((c) => c.function.name), ['get_weather']);
    });

    test('runTools runs the function the model calls and ends with its answer, plain and streamed', async () => {
      for (const stream of [false, true]) {
        const calls = [];
        const runner = relay.client().chat.completions.runTools({
          model,
          stream,
          messages: user('Weather in Paris? Use get_weather [[sim tokens=3]]'),
          tools: [{
            type: 'function',
            function: {
              name: 'get_weather',
              parameters: weather.function.parameters,
              parse: JSON.parse,
              function: (args) => { calls.push(args); return { temperature: 18 }; },
            },
          }],
        });
        const final = await runner.finalChatCompletion();
        assert.equal(calls.length, 1, `stream ${stream}`);
        assert.equal(calls[0].unit, 'celsius');
        assert.equal(final.choices[0].finish_reason, 'stop');
        assert.equal(final.choices[0].message.content.split(' ').length, 3);
        assert.equal(runner.messages.filter((m) => m.role === 'tool').length, 1);
      }
    });

    test('JSON mode answers a JSON object, and json_schema an instance of the schema, plain and streamed', async () => {
      const client = relay.client();
      const messages = user('Answer in JSON [[sim tokens=6]]');
      const plain = await client.chat.completions.create({ model, messages, response_format: { type: 'json_object' } });
      const parsed = JSON.parse(plain.choices[0].message.content);
      assert.equal(typeof parsed, 'object');
      assert.ok(parsed !== null && !Array.isArray(parsed));
      assert.equal(plain.usage.completion_tokens, 6);
      const { content } = await collect(await client.chat.completions.create({ model, messages, response_format: { type: 'json_object' }, stream: true }));
      assert.equal(content, plain.choices[0].message.content);

      const schema = {
        type: 'object',
        properties: {
          title: { type: 'string' },
          year: { type: 'integer' },
          tags: { type: 'array', items: { type: 'string' } },
          rating: { anyOf: [{ type: 'number', minimum: 5 }, { type: 'null' }] },
          author: { $ref: '#/$defs/person' },
        },
        required: ['title', 'year', 'tags', 'rating', 'author'],
        additionalProperties: false,
        $defs: { person: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false } },
      };
      const response_format = { type: 'json_schema', json_schema: { name: 'book', strict: true, schema } };
      const book = await client.chat.completions.create({ model, messages, response_format });
      const instance = JSON.parse(book.choices[0].message.content);
      assert.deepEqual(Object.keys(instance).sort(), ['author', 'rating', 'tags', 'title', 'year']);
      assert.equal(typeof instance.title, 'string');
      assert.ok(Number.isInteger(instance.year));
      assert.ok(Array.isArray(instance.tags) && instance.tags.every((t) => typeof t === 'string'));
      assert.ok(instance.rating >= 5);
      assert.equal(typeof instance.author.name, 'string');
      const streamed = await client.chat.completions.stream({ model, messages, response_format }).finalChatCompletion();
      assert.deepEqual(JSON.parse(streamed.choices[0].message.content), instance);
    });

    test('logprobs: one entry a token with top_logprobs of the asked length, plain and streamed', async () => {
      const client = relay.client();
      const messages = user('Log my probabilities [[sim tokens=5]]');
      const plain = await client.chat.completions.create({ model, messages, logprobs: true, top_logprobs: 3, n: 2 });
      for (const choice of plain.choices) {
        const entries = choice.logprobs.content;
        assert.equal(entries.length, 5);
        assert.equal(entries.map((e) => e.token).join(''), choice.message.content);
        for (const entry of entries) {
          assert.ok(entry.logprob <= 0);
          assert.equal(Buffer.from(entry.bytes).toString('utf8'), entry.token);
          assert.equal(entry.top_logprobs.length, 3);
          assert.equal(entry.top_logprobs[0].token, entry.token);
          assert.ok(entry.top_logprobs.every((t, i) => i === 0 || t.logprob < entry.top_logprobs[i - 1].logprob));
        }
      }
      assert.equal(plain.usage.completion_tokens, plain.choices.reduce((n, c) => n + c.logprobs.content.length, 0));

      const { chunks } = await collect(await client.chat.completions.create({ model, messages, logprobs: true, top_logprobs: 3, n: 2, stream: true }));
      for (const [index, entry] of byChoice(chunks)) {
        assert.deepEqual(entry.logprobs, plain.choices[index].logprobs.content);
      }
      const final = await client.chat.completions.stream({ model, messages, logprobs: true, top_logprobs: 1 }).finalChatCompletion();
      assert.equal(final.choices[0].logprobs.content.length, 5);

      const without = await client.chat.completions.create({ model, messages });
      assert.equal(without.choices[0].logprobs, null);
    });

    test('a seed makes the words its own and the same every time', async () => {
      const client = relay.client();
      const messages = user('Seeded words [[sim tokens=8]]');
      const answer = async (seed) => (await client.chat.completions.create({ model, messages, seed })).choices[0].message.content;
      const [a, b, c] = [await answer(7), await answer(7), await answer(8)];
      assert.equal(a, b);
      assert.notEqual(a, c);
    });

    test('a tool_choice it cannot follow (no tools, or a function not in tools) is a 400 BadRequestError naming tool_choice', async () => {
      const client = relay.client();
      const messages = user('Call something');
      for (const body of [
        { tools: [weather], tool_choice: { type: 'function', function: { name: 'get_stock_price' } } },
        { tool_choice: 'auto' },
        { tool_choice: 'required', stream: true },
      ]) {
        await assert.rejects(
          async () => {
            const answer = await client.chat.completions.create({ model, messages, ...body });
            if (body.stream) await collect(answer);
          },
          (error) => error.status === 400 && error.param === 'tool_choice' && error.type === 'invalid_request_error',
          JSON.stringify(body));
      }
    });

    test('a synchronous /v1/batch item gets the same choices, calls, JSON and logprobs as the call alone', async () => {
      const requests = [
        { model, messages: user('Batched pair [[sim tokens=3]]'), n: 2, logprobs: true, top_logprobs: 1 },
        { model, messages: user('Batched call'), tools: [weather], tool_choice: 'required' },
        { model, messages: user('Batched JSON [[sim tokens=4]]'), response_format: { type: 'json_object' } },
      ];
      const res = await fetch(`${relay.baseURL}/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${relay.keys.t1}`, 'content-type': 'application/json' },
        body: JSON.stringify({ requests }),
      });
      const { results } = await res.json();
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
      const client = relay.client();
      const alone = await Promise.all(requests.map((r) => client.chat.completions.create(r)));
      assert.deepEqual(results[0].response.choices.map((c) => [c.message.content, c.logprobs.content.length]),
        alone[0].choices.map((c) => [c.message.content, c.logprobs.content.length]));
      assert.equal(results[1].response.choices[0].message.tool_calls[0].function.arguments, alone[1].choices[0].message.tool_calls[0].function.arguments);
      assert.deepEqual(JSON.parse(results[2].response.choices[0].message.content), JSON.parse(alone[2].choices[0].message.content));
    });

    test('the output cap cuts every kind of answer with finish_reason "length" and bills what was sent', async () => {
      const client = relay.client();
      const messages = user('Cut me [[sim tokens=20]]');
      const cases = [
        [{ n: 2 }, (c) => c.message.content.split(' ').length],
        [{ tools: [weather], tool_choice: 'required' }, null],
        [{ response_format: { type: 'json_object' } }, null],
      ];
      for (const [extra] of cases) {
        const completion = await client.chat.completions.create({ model, messages, max_completion_tokens: 3, ...extra });
        for (const choice of completion.choices) assert.equal(choice.finish_reason, 'length', JSON.stringify(extra));
        assert.equal(completion.usage.completion_tokens, 3 * completion.choices.length);
      }
    });
  });
}
