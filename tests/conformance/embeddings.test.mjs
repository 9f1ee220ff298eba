// Embeddings: the Node SDK asks for base64 by default and decodes packed float32 itself, so the relay
// must return base64 when asked and floats otherwise, the same vectors either way.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, startRelay } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

const INPUTS = ['the quick brown fox', 'jumps over the lazy dog', 'a third, longer input of several words'];
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('embeddings.create', () => {
  test('default (base64 on the wire) and encoding_format float give the same unit vectors', async () => {
    const client = relay.client();
    const decoded = await client.embeddings.create({ model: 'mock-embed', input: INPUTS });
    const floats = await client.embeddings.create({ model: 'mock-embed', input: INPUTS, encoding_format: 'float' });

    for (const response of [decoded, floats]) {
      assert.equal(response.object, 'list');
      assert.deepEqual(response.data.map((d) => d.index), [0, 1, 2]);
      assert.ok(response.data.every((d) => d.object === 'embedding'));
      assert.ok(response.usage.prompt_tokens > 0);
      assert.equal(response.usage.total_tokens, response.usage.prompt_tokens);
    }
    for (let i = 0; i < INPUTS.length; i++) {
      const a = decoded.data[i].embedding;
      const b = floats.data[i].embedding;
      assert.ok(Array.isArray(a) && Array.isArray(b));
      assert.ok(a.length > 0);
      assert.equal(a.length, b.length);
      assert.ok(a.every(Number.isFinite), 'base64 decoding produced non-finite values');
      assert.ok(Math.abs(norm(a) - 1) < 1e-3, `norm ${norm(a)}`);
      // float32 round trip: the JSON floats are the same float32 values printed in decimal.
      a.forEach((x, j) => assert.ok(Math.abs(x - b[j]) <= 1e-6, `component ${j}: ${x} vs ${b[j]}`));
    }
    // Different inputs, different vectors: the relay does not mix up or reuse results.
    assert.notDeepEqual(floats.data[0].embedding, floats.data[1].embedding);
    assert.deepEqual(decoded.usage, floats.usage);
  });

  test('dimensions sets the vector length', async () => {
    const client = relay.client();
    for (const dimensions of [8, 24]) {
      const response = await client.embeddings.create({ model: 'mock-embed', input: 'sized', dimensions });
      assert.equal(response.data[0].embedding.length, dimensions);
    }
  });

  test('on the wire, base64 is a string of packed little-endian float32 values', async () => {
    const res = await fetch(`${relay.baseURL}/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.t1}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-embed', input: INPUTS[0], encoding_format: 'base64', dimensions: 16 }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = await res.json();
    assert.equal(typeof body.data[0].embedding, 'string');
    const bytes = Buffer.from(body.data[0].embedding, 'base64');
    assert.equal(bytes.length, 16 * 4);
    const values = Array.from({ length: 16 }, (_, i) => bytes.readFloatLE(i * 4));
    assert.ok(Math.abs(norm(values) - 1) < 1e-3);
  });

  test('a tenant restricted to mock-embed can embed with it', async () => {
    const response = await relay.client(KEYS.t2).embeddings.create({ model: 'mock-embed', input: 'allowed' });
    assert.ok(response.data[0].embedding.length > 0);
  });
});
