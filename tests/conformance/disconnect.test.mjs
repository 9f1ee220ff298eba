// A client that goes away mid-request must not leak its reservation or concurrency slot, and the
// request must be recorded as client_disconnected.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { APIUserAbortError } from 'openai';
import { startRelay, waitFor } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

const quota = async () => (await relay.admin('/admin/tenants/t1/quota')).body;
const usage = async () => (await relay.admin('/admin/tenants/t1/usage')).body;

for (const model of ['mock-fast', 'remote-fast']) {
  describe(`client abort via ${model}`, () => {
    test('aborting a stream after 3 chunks releases the reservation and is recorded', async () => {
      const before = await usage();
      const controller = new AbortController();
      const stream = await relay.client().chat.completions.create(
        { model, messages: [{ role: 'user', content: 'long answer [[sim tokens=50 interval=20]]' }], stream: true },
        { signal: controller.signal },
      );
      let chunks = 0;
      let contentChunks = 0;
      let finished = false;
      try {
        for await (const chunk of stream) {
          chunks++;
          if (chunk.choices[0]?.delta?.content) contentChunks++;
          if (chunk.choices[0]?.finish_reason) finished = true;
          if (chunks === 3) {
            // Mid-stream, the request holds a slot and a reservation.
            const live = await quota();
            assert.equal(live.in_flight, 1);
            assert.ok(live.reserved_nanos > 0, 'an open request reserves its worst-case cost');
            controller.abort();
          }
        }
      } catch (err) {
        if (!(err instanceof APIUserAbortError) && err.name !== 'AbortError') throw err;
      }
      // The SDK may still hand over a chunk it had already parsed, but the answer must not complete.
      assert.equal(finished, false, 'the stream ran to the end despite the abort');

      await relay.settledQuota('t1');
      const now = await relay.usageWithRequests(before.requests + 1);
      assert.equal((now.by_ending.client_disconnected ?? 0) - (before.by_ending.client_disconnected ?? 0), 1);
      // Billed for what was produced: at least what the client received, less than the full answer.
      const completion = now.completion_tokens - before.completion_tokens;
      assert.ok(completion >= contentChunks && completion < 50, `billed ${completion} completion tokens`);
    });
  });
}

describe('client abort of a plain request', () => {
  test('aborting while the model is still working releases the reservation and is recorded', async () => {
    const before = await usage();
    const controller = new AbortController();
    const pending = relay.client().chat.completions.create(
      { model: 'mock-fast', messages: [{ role: 'user', content: 'slow plain [[sim tokens=50 interval=20]]' }] },
      { signal: controller.signal },
    );
    // Abort only once the relay has admitted the request, so the abort is seen mid-flight.
    await waitFor(async () => (await quota()).in_flight === 1, { what: 'the request to be in flight' });
    controller.abort();
    await assert.rejects(pending, APIUserAbortError);

    await relay.settledQuota('t1');
    const now = await relay.usageWithRequests(before.requests + 1);
    assert.equal((now.by_ending.client_disconnected ?? 0) - (before.by_ending.client_disconnected ?? 0), 1);
  });
});
