// /v1/models: each tenant sees only the models it may use; any other model does not exist for it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from 'openai';
import { KEYS, expectError, startRelay } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

async function listIds(key) {
  const ids = [];
  for await (const model of relay.client(key).models.list()) ids.push(model.id);
  return ids;
}

describe('models', () => {
  test('list shows every configured model to an unrestricted tenant, as Model objects', async () => {
    const page = await relay.client().models.list();
    for (const model of page.data) {
      assert.equal(model.object, 'model');
      assert.ok(Number.isInteger(model.created));
      assert.equal(typeof model.owned_by, 'string');
    }
    const ids = await listIds(KEYS.t1);
    for (const expected of ['mock-fast', 'mock-embed', 'remote-fast']) assert.ok(ids.includes(expected), `${expected} missing from ${ids}`);
  });

  test('list shows a restricted tenant only its allowed model', async () => {
    assert.deepEqual(await listIds(KEYS.t2), ['mock-embed']);
  });

  test('list responses carry x-ratelimit headers for the tenant', async () => {
    const { response } = await relay.client().models.list().withResponse();
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '100000');
  });

  test('retrieve returns the model, and an alias under the name asked for', async () => {
    const model = await relay.client().models.retrieve('mock-fast');
    assert.equal(model.id, 'mock-fast');
    assert.equal(model.object, 'model');
    const alias = await relay.client().models.retrieve('gpt-4o-mini');
    assert.equal(alias.id, 'gpt-4o-mini');
  });

  test('retrieving a model the tenant may not use is 404 model_not_found', async () => {
    await expectError(relay.client(KEYS.t2).models.retrieve('mock-fast'), NotFoundError, { status: 404, code: 'model_not_found' });
  });

  test('retrieving a model that does not exist is 404 model_not_found', async () => {
    await expectError(relay.client().models.retrieve('no-such-model'), NotFoundError, { status: 404, code: 'model_not_found' });
  });

  test('chatting with a model the tenant may not use looks exactly like an unknown model', async () => {
    const err = await expectError(
      relay.client(KEYS.t2).chat.completions.create({ model: 'mock-fast', messages: [{ role: 'user', content: 'hi' }] }),
      NotFoundError, { status: 404, code: 'model_not_found' },
    );
    assert.equal(err.type, 'invalid_request_error');
  });
});
