// Issue 12 review: validation holds every custom_id in memory (a HashSet of strings, UTF-16), so the size of the
// ids, not the count of lines, sets a silo's memory. A 180 MB input of 90,000 lines whose custom_ids are 2,000
// characters each is within every limit (MaxUploadBytes 200 MB, MaxRequests 200,000); the silo's peak RSS
// (VmHWM) must stay within the 250 MB a silo.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { toFile } from 'openai';
import { startRelay, waitFor } from './harness.mjs';

const LINES = 90_000;
const ID_CHARS = 2_000;

let relay;
before(async () => { relay = await startRelay({}); });
after(() => relay?.stop());

function siloPid() {
  const out = execFileSync('pgrep', ['-f', `RelayCluster.Silo.dll --urls http://127.0.0.1:${relay.siloPort}`]).toString().trim().split('\n');
  return Number(out[0]);
}
const kb = (pid, field) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))[1]);

test(`validating ${LINES} lines with ${ID_CHARS}-character custom_ids holds no id in memory`, async (t) => {
  const client = relay.client();
  const pid = siloPid();
  const pad = 'x'.repeat(ID_CHARS - 8);
  const lines = Array.from({ length: LINES }, (_, i) => JSON.stringify({
    custom_id: `${String(i).padStart(8, '0')}${pad}`, method: 'POST', url: '/v1/chat/completions',
    body: { model: 'mock-fast', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 },
  }));
  const buffer = Buffer.from(lines.join('\n') + '\n');
  const file = await client.files.create({ file: await toFile(buffer, 'long-ids.jsonl'), purpose: 'batch' });
  const before = kb(pid, 'VmRSS');
  const peakBefore = kb(pid, 'VmHWM');
  const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  // Validation ends with in_progress (or failed): then every id has been read.
  const validated = await waitFor(async () => {
    const b = await client.batches.retrieve(created.id);
    return b.status !== 'validating' ? b : false;
  }, { timeoutMs: 300_000, intervalMs: 500, what: 'validation to end' });
  t.diagnostic(`after validation: ${validated.status} ${JSON.stringify(validated.request_counts)} ${JSON.stringify(validated.errors)?.slice(0, 200)}`);
  const peak = kb(pid, 'VmHWM');
  t.diagnostic(`input ${(buffer.length / 1e6).toFixed(0)} MB; silo RSS before the create ${(before / 1024).toFixed(0)} MB (peak so far, the upload included, ${(peakBefore / 1024).toFixed(0)} MB), peak after validation ${(peak / 1024).toFixed(0)} MB`);
  await client.batches.cancel(created.id).catch(() => {});
  // Holding the ids (180 MB of them) took the silo from ~200 MB to 685 MB; digests (16 bytes an id, 1.4 MB) leave the
  // growth to the run's own working set. (The 250 MB target itself is the batch benchmark's, bench/batch.)
  const growthMb = (peak - Math.max(before, peakBefore)) / 1024;
  assert.ok(growthMb <= 100, `validation grew the silo's peak RSS by ${growthMb.toFixed(0)} MB`);
});
