// Drives one batch benchmark measurement against running servers (started by run.sh) and prints one JSON line:
//   direct  — the same N requests sent straight to MockUpstream by a closed loop of C workers (the measured floor:
//             what the upstream's latency allows at the batch's default concurrency);
//   batch   — the N requests as one batch: upload, create, poll until it ends; wall time from create to end, the CPU
//             the named processes spent in that window, their peak RSS, and the output file's line count.
// Usage: node batch.mjs <mode> <n>
// Env: SILO, MOCK, KEY, MOCK_KEY, CONCURRENCY (64); for `batch` also
//   CPU_PIDS  groups of processes to account, `name=PID+PID,name=PID` (e.g. silo=123+456,redis=789): CPU seconds of each
//             group (utime + stime from /proc/PID/stat) over create → end, and each process's VmHWM before and after;
//   TIMEOUT_S give up polling after this long (the result then says `did not complete`, with the last status seen);
//   ADMIN_KEY when set, asks the silo which silo hosts the batch's grain (404 before the batch grains exist);
//   TENANT    the key's tenant id (bench); TAGS: JSON merged into the output line (run.sh's phase and build).
import { readFileSync } from 'node:fs';

const [mode, nArg] = process.argv.slice(2);
const n = Number(nArg);
const { SILO, MOCK, KEY, MOCK_KEY, ADMIN_KEY } = process.env;
const concurrency = Number(process.env.CONCURRENCY || 64);
const timeoutSeconds = Number(process.env.TIMEOUT_S || 3600);
const tenant = process.env.TENANT || 'bench';
const tags = JSON.parse(process.env.TAGS || '{}');
const clockTicks = Number(process.env.CLK_TCK || 100);
const body = (i) => ({ model: 'remote-fast', messages: [{ role: 'user', content: `bench row ${i}` }], max_tokens: 16 });
const terminal = ['completed', 'failed', 'expired', 'cancelled'];

/** `name=1+2,name=3` → [{ name, pids: [1, 2] }, …] */
const groups = (process.env.CPU_PIDS || '').split(',').filter(Boolean).map((group) => {
  const [name, list] = group.split('=');
  return { name, pids: list.split('+').map(Number) };
});

/** CPU seconds (user + system) a process has used so far; the fields after the parenthesized name are counted from 3. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

function peakRssMb(pid) {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 102.4) / 10 : null;
}

const sample = () => groups.map((g) => g.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0));

async function call(url, init, what) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${what}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

async function direct() {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      const res = await fetch(`${MOCK}/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${MOCK_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...body(i), model: 'mock-fast' }),
      });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`direct ${res.status}`);
    }
  }));
  return { seconds: (performance.now() - started) / 1000, concurrency };
}

/** Which silo hosts the batch's grain, or why that is not known (the endpoint is 404 until the batch grains exist). */
async function grainHost(batchId) {
  const res = await fetch(`${SILO}/admin/tenants/${tenant}/batches/${batchId}/grain`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const text = await res.text();
  if (res.status === 404) return { status: 404, note: 'no batch grain endpoint in this build (batches not on grains)' };
  if (!res.ok) return { status: res.status, note: text.slice(0, 200) };
  const view = JSON.parse(text);
  return { status: 200, silo: view.silo ?? null, endpoint: view.endpoint ?? view.address ?? null };
}

async function batch() {
  const auth = { authorization: `Bearer ${KEY}` };
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: body(i) })).join('\n');
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', new Blob([lines]), 'bench.jsonl');
  const file = await (await call(`${SILO}/v1/files`, { method: 'POST', headers: auth, body: form }, 'upload')).json();

  const cpuBefore = sample();
  const peakRssBefore = Object.fromEntries(groups.map((g) => [g.name, g.pids.map(peakRssMb)]));
  const started = performance.now();
  const created = await (await call(`${SILO}/v1/batches`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
  }, 'create')).json();
  const grain = ADMIN_KEY ? await grainHost(created.id) : undefined;
  const deadline = started + timeoutSeconds * 1000;
  let state = created;
  while (!terminal.includes(state.status) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    state = await (await call(`${SILO}/v1/batches/${created.id}`, { headers: auth }, 'poll')).json();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = sample();
  const cpu = Object.fromEntries(groups.map((g, i) => [g.name, cpuAfter[i] - cpuBefore[i]]));
  const peakRss = Object.fromEntries(groups.map((g) => [g.name, g.pids.map(peakRssMb)]));
  const done = terminal.includes(state.status);
  let outputLines = null;
  if (done && state.output_file_id) {
    const out = await (await call(`${SILO}/v1/files/${state.output_file_id}/content`, { headers: auth }, 'output')).text();
    outputLines = out.split('\n').filter(Boolean).length;
  }
  return {
    seconds, status: done ? state.status : 'did not complete', lastStatus: state.status, timeoutSeconds: done ? undefined : timeoutSeconds,
    counts: state.request_counts, outputLines, cpu, peakRss, peakRssBefore, grain,
  };
}

// A failure (an upload refused, a silo that died) is a result too: the report shows it instead of losing the run.
const result = await (mode === 'direct' ? direct() : batch()).catch((error) => ({ status: 'error', error: String(error.message ?? error) }));
console.log(JSON.stringify({ ...tags, mode, n, ...result }));
