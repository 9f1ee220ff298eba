// What the batch tests that run real processes share: input lines, upload, waiting for a batch's end, reading its
// files, the accounting of every custom_id, MockUpstream's call count, and a batch item's cost as the relay books it.
import assert from 'node:assert/strict';
import { toFile } from 'openai';
import { waitFor } from './harness.mjs';

export const FINAL_STATUSES = ['completed', 'failed', 'expired', 'cancelled'];

/**
 * What the batch failure tests run silos with: reservations that expire in 5 s, a batch heartbeat every second
 * (`LeaseSeconds / 3`, so a dead silo's chunks are revived quickly), chunks of 50 and 16 items a silo at once, so a
 * batch of a few thousand items is still running when a silo dies. Spread it and override what a test needs.
 */
export const FAILURE_ENV = Object.freeze({
  Relay__ReservationSeconds: '5',
  Relay__Batches__LeaseSeconds: '3',
  Relay__Batches__ChunkSize: '50',
  Relay__Batches__MaxConcurrentItems: '16',
});

/** The batch through `silo` with `key`; null while the call fails (a grain moving after a kill answers 503 for a moment). */
export async function retrieveOrNull(silo, key, id, timeout = 5_000) {
  try {
    return await silo.client(key, { timeout }).batches.retrieve(id);
  } catch {
    return null;
  }
}

/** One /v1/chat/completions line of a batch input file. */
export const chatLine = (customId, model, content) => JSON.stringify({
  custom_id: customId, method: 'POST', url: '/v1/chat/completions',
  body: { model, messages: [{ role: 'user', content }] },
});

/** Uploads `lines` as a batch input file through the SDK. */
export async function uploadLines(client, lines, name = 'input.jsonl') {
  return client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), name), purpose: 'batch' });
}

/** Polls the batch through `client` until it reaches a final status, and returns it. */
export function batchEnd(client, id, { timeoutMs = 60_000, intervalMs = 100 } = {}) {
  return waitFor(async () => {
    const batch = await client.batches.retrieve(id);
    return FINAL_STATUSES.includes(batch.status) ? batch : false;
  }, { timeoutMs, intervalMs, what: `batch ${id} to reach a final status` });
}

/** The lines of a file (output or error) as objects; none for a null id. */
export async function jsonlFile(client, fileId) {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Asserts every custom_id of `expectedIds` appears exactly once across `output` and `errors`. */
export function assertEachIdOnce(expectedIds, output, errors) {
  const seen = new Map();
  for (const line of [...output, ...errors]) seen.set(line.custom_id, (seen.get(line.custom_id) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
  const missing = expectedIds.filter((id) => !seen.has(id));
  const expected = new Set(expectedIds);
  const unknown = [...seen.keys()].filter((id) => !expected.has(id));
  assert.deepEqual({ twice: twice.slice(0, 20), missing: missing.slice(0, 20), unknown: unknown.slice(0, 20) },
    { twice: [], missing: [], unknown: [] }, `every custom_id exactly once (${twice.length} twice, ${missing.length} missing)`);
  assert.equal(output.length + errors.length, expectedIds.length);
}

/** Model calls that reached MockUpstream so far (it counts each call as it arrives, before answering). */
export async function mockCalls(mockOrigin) {
  const res = await fetch(`${mockOrigin}/mock/stats`);
  assert.equal(res.status, 200, 'MockUpstream /mock/stats');
  return (await res.json()).calls;
}

/**
 * What the relay books for `usage` at `prices` ($/MTok) × `factor`, in nano-dollars: each part is tokens × price ×
 * 1000, rounded up to a whole nano-dollar (Money.CostNanos), and the two parts are added.
 */
export function costNanos(usage, prices, factor) {
  const part = (tokens, perMTok) => (tokens > 0 && perMTok > 0 ? Math.ceil(roundMicro(tokens * perMTok * factor * 1000)) : 0);
  return part(usage.prompt_tokens, prices.input) + part(usage.completion_tokens, prices.output);
}

// Decimal prices (0.27 × 0.5 × 1000 = 135) come out of binary floating point a hair off; the relay's decimals do not.
const roundMicro = (x) => Math.round(x * 1e6) / 1e6;
