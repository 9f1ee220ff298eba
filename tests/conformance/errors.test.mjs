// Errors must reach SDK users as the exception classes OpenAI's own errors produce, with the same
// status, type, code and param, and with the headers the SDK's retry logic reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APIError, AuthenticationError, BadRequestError, InternalServerError, NotFoundError, RateLimitError,
} from 'openai';
import { KEYS, REQUEST_ID, expectError, startRelay } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

const ask = (content) => [{ role: 'user', content }];

describe('refusals before any upstream call', () => {
  test('a bad key is AuthenticationError 401 invalid_api_key, with a request id', async () => {
    const err = await expectError(
      relay.client(KEYS.bad).chat.completions.create({ model: 'mock-fast', messages: ask('hi') }),
      AuthenticationError, { status: 401, code: 'invalid_api_key' },
    );
    assert.match(err.requestID, REQUEST_ID);
    assert.equal(err.type, 'invalid_request_error');
  });

  test('no Authorization header at all is 401', async () => {
    const res = await fetch(`${relay.baseURL}/models`);
    assert.equal(res.status, 401);
    assert.equal(typeof (await res.json()).error.message, 'string');
  });

  test('an unknown model is NotFoundError 404 model_not_found, with rate-limit headers', async () => {
    const err = await expectError(
      relay.client().chat.completions.create({ model: 'no-such-model', messages: ask('hi') }),
      NotFoundError, { status: 404, code: 'model_not_found' },
    );
    assert.match(err.requestID, REQUEST_ID);
    assert.equal(err.headers.get('x-ratelimit-limit-requests'), '100000');
  });

  test('missing messages is BadRequestError 400 with param "messages"', async () => {
    const err = await expectError(
      relay.client().chat.completions.create({ model: 'mock-fast' }),
      BadRequestError, { status: 400, param: 'messages' },
    );
    assert.equal(err.type, 'invalid_request_error');
  });

  test('exceeding RPM is RateLimitError 429 rate_limit_exceeded with retry-after', async () => {
    const client = relay.client(KEYS.t3); // 2 requests a minute
    for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'mock-fast', messages: ask('[[sim tokens=1]]') });
    const err = await expectError(
      client.chat.completions.create({ model: 'mock-fast', messages: ask('[[sim tokens=1]]') }),
      RateLimitError, { status: 429, code: 'rate_limit_exceeded' },
    );
    const retryAfter = Number(err.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retry-after ${err.headers.get('retry-after')}`);
    assert.equal(err.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.match(err.requestID, REQUEST_ID);
  });

  test('an exhausted budget is RateLimitError insufficient_quota that tells the SDK not to retry', async () => {
    const err = await expectError(
      relay.client(KEYS.t4).chat.completions.create({ model: 'mock-fast', messages: ask('hi') }),
      RateLimitError, { status: 429, code: 'insufficient_quota', type: 'insufficient_quota' },
    );
    assert.equal(err.headers.get('x-should-retry'), 'false');
  });
});

for (const model of ['mock-fast', 'remote-fast']) {
  describe(`upstream failures via ${model}`, () => {
    test('an upstream 503 before any output is InternalServerError 503', async () => {
      const err = await expectError(
        relay.client().chat.completions.create({ model, messages: ask('fail [[sim error=503]]') }),
        InternalServerError, { status: 503 },
      );
      assert.match(err.requestID, REQUEST_ID);
      assert.ok(Number(err.headers.get('retry-after')) >= 1, 'a 503 should say when to retry');
    });

    test('a mid-stream error makes iteration throw APIError after the content sent so far', async () => {
      const stream = await relay.client().chat.completions.create({ model, messages: ask('[[sim mid_error=2 tokens=10]]'), stream: true });
      let contentChunks = 0;
      const err = await expectError(async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) contentChunks++;
      }, APIError);
      assert.equal(contentChunks, 2);
      assert.equal(typeof err.error?.message, 'string', 'the error event carries an OpenAI error object');
    });

    test('a dropped upstream connection makes iteration throw, never a clean end', async () => {
      // In-process, a drop delivers everything sent before it. Over HTTP it is a TCP reset, which can
      // discard bytes the relay has not read yet, so the remote model is paced to keep the test exact.
      const pace = model === 'remote-fast' ? ' interval=100' : '';
      const stream = await relay.client().chat.completions.create({ model, messages: ask(`[[sim drop=2 tokens=10${pace}]]`), stream: true });
      let contentChunks = 0;
      let finished = false;
      const err = await expectError(async () => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content) contentChunks++;
          if (chunk.choices[0]?.finish_reason) finished = true;
        }
      }, APIError);
      if (model === 'mock-fast') assert.equal(contentChunks, 2, 'both tokens sent before the drop arrive');
      else assert.ok(contentChunks >= 1 && contentChunks <= 2, `${contentChunks} content chunks before the drop`);
      assert.equal(finished, false, 'a dropped stream must not look finished');
      assert.equal(typeof err.error?.message, 'string');
    });
  });
}

describe('streaming errors before the first byte', () => {
  test('an immediate upstream 503 on a stream is an HTTP 503, raised by create()', async () => {
    await expectError(
      relay.client().chat.completions.create({ model: 'mock-fast', messages: ask('fail [[sim error=503]]'), stream: true }),
      InternalServerError, { status: 503 },
    );
  });
});

describe('after all the failures', () => {
  test('nothing stays in flight or reserved', async () => {
    const quota = await relay.settledQuota('t1');
    assert.equal(quota.in_flight, 0);
  });
});
