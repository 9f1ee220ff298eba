// Fan-out benchmark: one streamed completion (x-relay-fanout: true) followed by N SignalR subscribers split
// across two silos, and over FANOUT_WORKERS worker threads (subscribers.mjs). Lag = subscriber receipt time -
// SSE caller receipt time of the same token, both as performance.timeOrigin + performance.now() (one epoch).
// Also compares the SSE caller's time to first token with fan-out off/on.
// Usage: node fanout.mjs <originA> <originB> <results.md>   (env: FANOUT_NS="1,100,1000", TTFT_RUNS=10, FANOUT_WORKERS=2,
//          SILO_PIDS=pidA,pidB and REDIS_PID: whose CPU is charged to the delivered messages)
//    or: node fanout.mjs --systems 'NAME|originA|originB|pidA,pidB' 'NAME|…' --out <results.md>   (several systems side by side,
//          e.g. a new build and its base: the fan-out runs alternate between them, FANOUT_ROUNDS times; TTFT_RUNS=0 skips the TTFT part)
import { writeFileSync, appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const systems = [];
let outFile;
if (argv[0] === '--systems') {
  let i = 1;
  for (; i < argv.length && argv[i] !== '--out'; i++) {
    const [name, a, b, pids] = argv[i].split('|');
    systems.push({ name, originA: a, originB: b, pids: (pids || '').split(',').filter(Boolean) });
  }
  outFile = argv[i + 1];
} else {
  systems.push({ name: 'relay', originA: argv[0], originB: argv[1], pids: (process.env.SILO_PIDS || '').split(',').filter(Boolean) });
  outFile = argv[2];
}
const { originA, originB } = systems[0];
const KEY = process.env.FANOUT_KEY || 'sk-bench';
const ROUNDS = Number(process.env.FANOUT_ROUNDS || 1);
const SUMMARY = process.env.FANOUT_SUMMARY; // a file the issue-11 summary rows are appended to
const NS = (process.env.FANOUT_NS || '1,100,1000').split(',').map(Number);
const TTFT_RUNS = Number(process.env.TTFT_RUNS || 10);
const TOKENS = Number(process.env.FANOUT_TOKENS || 200);
const INTERVAL = Number(process.env.FANOUT_INTERVAL || 10);
const WORKERS = Number(process.env.FANOUT_WORKERS || 2);
const log = (...a) => console.error('#', ...a);

/** Starts a streamed completion on `origin`; resolves once headers arrive with { streamId, times, texts, done }. */
async function startCompletion(origin, { tokens, interval, ttft, fanout }) {
  const t0 = performance.now();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
  if (fanout) headers['x-relay-fanout'] = 'true';
  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST', headers,
    body: JSON.stringify({ model: 'mock-fast', stream: true,
      messages: [{ role: 'user', content: `bench [[sim tokens=${tokens} interval=${interval} ttft=${ttft}]]` }] }),
  });
  if (res.status !== 200) throw new Error(`completion: HTTP ${res.status} ${await res.text()}`);
  const streamId = res.headers.get('x-relay-stream-id');
  const times = [], texts = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      const now = performance.timeOrigin + performance.now(); // the epoch the subscriber workers use
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line.startsWith('data:')) continue;
        const payload = line.slice(5).trim();
        if (payload === '[DONE]') continue;
        const content = JSON.parse(payload).choices?.[0]?.delta?.content;
        if (content) { times.push(now); texts.push(content); }
      }
    }
    return performance.timeOrigin + performance.now();
  })();
  return { t0: performance.timeOrigin + t0, streamId, times, texts, done };
}

async function streamToken(origin, streamId) {
  const res = await fetch(`${origin}/v1/streams/${streamId}/token`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` } });
  if (res.status !== 200) throw new Error(`token: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');

/** CPU seconds (utime + stime, fields 14 and 15 of /proc/<pid>/stat, 10 ms ticks) of some processes, added up; NaN if unknown. */
function cpuSeconds(pids) {
  try {
    return pids.reduce((sum, pid) => {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return sum + (Number(fields[11]) + Number(fields[12])) / 100;
    }, 0) || NaN;
  } catch { return NaN; /* not Linux, or the process is gone */ }
}

/** Server-side counters, far less dependent on the client's speed than lag: the silos' and redis-server's CPU seconds. */
function counters(system) {
  return { cpu: cpuSeconds(system.pids), redis: process.env.REDIS_PID ? cpuSeconds([process.env.REDIS_PID]) : NaN };
}

/** Starts `workers` worker threads sharing subscribers 0..n-1 round robin; resolves once all are connected. */
async function startSubscribers(n, streamId, tokens, { originA, originB }) {
  const shares = Array.from({ length: Math.min(WORKERS, n) }, () => []);
  for (let k = 0; k < n; k++) shares[k % shares.length].push(k);
  return Promise.all(shares.map((indexes) => new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./subscribers.mjs', import.meta.url), {
      workerData: { origins: { A: originA, B: originB }, tokens, streamId, indexes },
    });
    worker.once('error', reject);
    worker.once('message', (m) => (m.type === 'connected' ? resolve(worker) : reject(new Error(JSON.stringify(m)))));
  })));
}

/** Tells every worker to subscribe; resolves with the last subscription time and a promise of all subscribers' rows. */
async function subscribeAll(workers) {
  const subscribed = [], results = [];
  for (const w of workers) {
    subscribed.push(new Promise((resolve) => w.once('message', (m) => resolve(m.at))));
    w.postMessage('subscribe');
  }
  const at = Math.max(...(await Promise.all(subscribed)));
  for (const w of workers) results.push(new Promise((resolve) => w.once('message', (m) => { resolve(m.subs); w.terminate(); })));
  return { at, rows: Promise.all(results).then((all) => all.flat()) };
}

async function fanoutRun(n, system = systems[0]) {
  const { originA, originB } = system;
  // Long enough first-token delay to open and subscribe all N connections before tokens flow.
  const ttft = 2000 + n * Number(process.env.FANOUT_TTFT_PER_SUB || 25);
  const caller = await startCompletion(originA, { tokens: TOKENS, interval: INTERVAL, ttft, fanout: true });
  const tokens = { A: await streamToken(originA, caller.streamId), B: await streamToken(originB, caller.streamId) };
  const connStart = performance.now();
  const workers = await startSubscribers(n, caller.streamId, tokens, system);
  const connectedMs = performance.now() - connStart;
  const before = counters(system);
  const { at: subscribedAt, rows } = await subscribeAll(workers);
  const end = await caller.done;
  const subs = await rows;
  const after = counters(system);
  const lastRecv = Math.max(...subs.map((s) => s.times.at(-1) ?? 0));
  const firstTok = caller.times[0];
  const subscribedBeforeFirstToken = subscribedAt < firstTok;

  const lags = [], lagsBySilo = { A: [], B: [] };
  let mismatches = 0, total = 0, gaps = 0, errors = 0, incomplete = 0, notices = 0;
  for (const s of subs) {
    if (s.error) errors++;
    if (!s.completed) incomplete++;
    if (s.seqs.length !== caller.times.length) gaps++;
    notices += s.other.length;
    for (let k = 0; k < s.seqs.length; k++) {
      const idx = s.seqs[k] - 1;
      total++;
      if (caller.texts[idx] !== s.datas[k]) { mismatches++; continue; }
      const lag = s.times[k] - caller.times[idx];
      lags.push(lag); lagsBySilo[s.silo].push(lag);
    }
  }
  lags.sort((a, b) => a - b); lagsBySilo.A.sort((a, b) => a - b); lagsBySilo.B.sort((a, b) => a - b);
  const duration = (lastRecv - firstTok) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const siloCpuSeconds = after.cpu - before.cpu, redisCpuSeconds = after.redis - before.redis;
  const r = {
    system: system.name, n, workers: Math.min(WORKERS, n), ttft, connectedMs, subscribedBeforeFirstToken, callerTokens: caller.times.length,
    callerSeconds: (end - firstTok) / 1000, delivered: total, mismatches, gaps, errors, incomplete, notices,
    p50: pct(lags, 50), p99: pct(lags, 99), max: lags.at(-1),
    p99A: pct(lagsBySilo.A, 99), p99B: pct(lagsBySilo.B, 99),
    tokensPerSec: total / duration,
    siloCpuSeconds, siloMicrosPerMessage: (siloCpuSeconds * 1e6) / total,
    redisCpuSeconds, redisMicrosPerMessage: (redisCpuSeconds * 1e6) / total,
  };
  log(JSON.stringify(r));
  return r;
}

async function ttftOnce(fanout, system = systems[0]) {
  const c = await startCompletion(system.originA, { tokens: 20, interval: 10, ttft: 0, fanout });
  await c.done;
  return c.times[0] - c.t0;
}

async function ttftCompare(runs) {
  const off = [], on = [];
  for (let i = 0; i < runs; i++) {
    off.push(await ttftOnce(false));
    on.push(await ttftOnce(true));
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  return { off, on, medOff: med(off), medOn: med(on), meanOff: mean(off), meanOn: mean(on) };
}

const results = [];
log('warm-up');
for (const system of systems) {
  for (let i = 0; i < 5; i++) { await ttftOnce(false, system); await ttftOnce(true, system); }
  await fanoutRun(1, system);
}
// Several systems take turns (A B, B A, …) at each N, so drift weighs on them alike.
for (let round = 0; round < ROUNDS; round++) {
  for (const n of NS) {
    for (const system of round % 2 === 0 ? systems : [...systems].reverse()) {
      log(`fan-out to ${n}, ${system.name}, round ${round + 1}/${ROUNDS}`);
      results.push(await fanoutRun(n, system));
    }
  }
}

let quiet = null, loaded = null;
const bigN = Math.max(...NS);
if (TTFT_RUNS > 0) {
  log('TTFT fan-out off vs on (no subscribers)');
  quiet = await ttftCompare(TTFT_RUNS);

  // TTFT probes while a fan-out to the largest N is streaming: the caller's own first token under fan-out load.
  log(`TTFT while fan-out to ${bigN} is live`);
  const probe = (async () => {
    // wait for the fan-out run's tokens to start flowing (its ttft = 2000 + n*25 ms)
    await new Promise((r) => setTimeout(r, 2000 + bigN * 25 + 300));
    return ttftCompare(Math.max(3, Math.floor(TTFT_RUNS / 2)));
  })();
  const [bigRun, probeRes] = await Promise.all([fanoutRun(bigN), probe]);
  loaded = { ...probeRes, run: bigRun };
}

const os = await import('node:os');
const several = systems.length > 1;
const lines = [];
lines.push(several ? '## 4. Fan-out: one completion to 1,000 SignalR subscribers over 2 silos' : '# Fan-out benchmark results', '');
lines.push(`Generated ${new Date().toISOString()} by \`bench/fanout/fanout.mjs\` on ${process.platform} (${os.cpus().length} cores), Node ${process.version}.`);
lines.push(`One completion (mock-fast, ${TOKENS} tokens, ${INTERVAL} ms apart) started on silo A with \`x-relay-fanout: true\`; N SignalR subscribers (WebSockets) split evenly across silo A and silo B and over ${WORKERS} Node worker threads, all subscribed before the first token with \`${process.env.FANOUT_METHOD || 'SubscribeBatched'}\`. Lag = subscriber receipt − SSE caller receipt of the same token (performance.timeOrigin + now(), one clock). *Silo CPU* = both silos' CPU seconds (/proc) from the subscriptions to the end of the stream; per delivered token message in µs, and redis-server's likewise. Client, silos and Redis share the machine's cores, and other builds may be running on them: absolute figures are noisy.`
  + (several ? ` Systems side by side (${systems.map((s) => s.name).join(', ')}), taking turns at each N over ${ROUNDS} round(s).` : ''), '');
lines.push('| system | subscribers | token msgs delivered | lag p50 (ms) | lag p99 (ms) | lag max (ms) | p99 silo A / B (ms) | tokens/s delivered | connect time (ms) | text mismatches | incomplete subs | gap/lagged notices | silo CPU s (both) | silo CPU µs/msg | redis-server µs/msg |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  lines.push(`| ${r.system} | ${r.n} | ${r.delivered} | ${f1(r.p50)} | ${f1(r.p99)} | ${f1(r.max)} | ${f1(r.p99A)} / ${f1(r.p99B)} | ${Math.round(r.tokensPerSec)} | ${Math.round(r.connectedMs)} | ${r.mismatches} | ${r.incomplete + r.errors} | ${r.notices} | ${f1(r.siloCpuSeconds)} | ${f1(r.siloMicrosPerMessage)} | ${f1(r.redisMicrosPerMessage)} |`);
}
lines.push('');
/** A system's runs at N, in the order they ran. */
const runsOf = (system, n) => results.filter((r) => r.system === system && r.n === n);
const each = (runs, pick, unit) => (runs.length ? `${runs.map((r) => f1(pick(r))).join(' / ')} ${unit}` : '–');
for (const s of systems) {
  const big = runsOf(s.name, 1000);
  if (big.length) lines.push(`${s.name}: p99 lag ≤ 50 ms at 1,000 subscribers: **${big.every((r) => r.p99 <= 50) ? 'met' : 'NOT met'}** (${each(big, (r) => r.p99, 'ms')}, each run).`, '');
}
if (SUMMARY) {
  const [now, old] = [runsOf('new', 1000), runsOf('old', 1000)];
  if (now.length) {
    appendFileSync(SUMMARY, `| 4. fan-out p99 lag, 1,000 SignalR subscribers over 2 silos (each run) | ≤ 50 ms | ${each(old, (r) => r.p99, 'ms')} | ${each(now, (r) => r.p99, 'ms')} | ${now.every((r) => r.p99 <= 50) ? 'met' : '**missed**'} |\n`
      + `| 4. fan-out silo CPU per delivered message, both silos (each run) | (none) | ${each(old, (r) => r.siloMicrosPerMessage, 'µs')} | ${each(now, (r) => r.siloMicrosPerMessage, 'µs')} | – |\n`);
  }
}
lines.push(`Load average when this run ended (1/5/15 min): ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')} on ${os.cpus().length} cores.`,
  'Lag and tokens/s depend on what else the machine runs; the CPU columns depend far less on it. The silos\' CPU per delivered',
  'message is mostly SignalR/WebSocket sends.', '');
if (quiet) {
  lines.push(`## SSE caller time to first token (tokens=20, ttft=0, ${TTFT_RUNS} alternating runs each, silo A)`, '');
  lines.push('| condition | median TTFT (ms) | mean TTFT (ms) |', '|---|---:|---:|');
  lines.push(`| fan-out off, idle | ${f1(quiet.medOff)} | ${f1(quiet.meanOff)} |`);
  lines.push(`| fan-out on, no subscribers | ${f1(quiet.medOn)} | ${f1(quiet.meanOn)} |`);
  lines.push(`| fan-out off, while fan-out to ${bigN} is live | ${f1(loaded.medOff)} | ${f1(loaded.meanOff)} |`);
  lines.push(`| fan-out on, while fan-out to ${bigN} is live | ${f1(loaded.medOn)} | ${f1(loaded.meanOn)} |`);
  lines.push('');
  const ratio = quiet.medOn / quiet.medOff;
  lines.push(`Fan-out on / off (idle, medians): **${ratio.toFixed(3)}** (${((ratio - 1) * 100).toFixed(1)} %); target ≤ +5 %: **${ratio <= 1.05 ? 'met' : 'NOT met'}**.`);
  lines.push(`Under a live ${bigN}-subscriber fan-out, on / off medians: ${(loaded.medOn / loaded.medOff).toFixed(3)}; vs idle off: ${(loaded.medOn / quiet.medOff).toFixed(3)}. (That concurrent fan-out run: p99 lag ${f1(loaded.run.p99)} ms.)`);
  lines.push('', 'Raw TTFT samples (ms):', '```');
  lines.push(`idle off: ${quiet.off.map(f1).join(' ')}`, `idle on:  ${quiet.on.map(f1).join(' ')}`);
  lines.push(`live off: ${loaded.off.map(f1).join(' ')}`, `live on:  ${loaded.on.map(f1).join(' ')}`, '```');
}
lines.push('', 'Raw fan-out rows:', '```', ...results.map((r) => JSON.stringify(r)), ...(loaded ? [JSON.stringify(loaded.run)] : []), '```', '');
writeFileSync(outFile, lines.join('\n'));
console.log(lines.join('\n'));
process.exit(0);
