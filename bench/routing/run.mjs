// Routing/resilience benchmark. Usage: node bench/routing/run.mjs [artifactsDir]
// 1. Added latency of the resilience pipeline on the happy path: two silos side by side in one run, one with
//    the default pipeline (3 attempts, breaker on), one with a minimal one (1 attempt, breaker never trips),
//    same MockUpstream; sequential requests in interleaved rounds; reports the difference of medians/means.
// 2. Failover time from a dead primary (connection refused) to the first byte from the fallback, against the
//    time to first byte of the fallback called directly through the same silo.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const artifacts = process.argv[2] || process.env.RELAY_ARTIFACTS || '/tmp/art-routing';
const dll = (p) => path.join(artifacts, 'bin', p, 'release', `${p}.dll`);
const ROUNDS = 10, PER_ROUND = 400;
const children = [];

const freePort = () => new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
function launch(project, args, env) {
  const child = spawn('dotnet', [dll(project), ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
  children.push(child);
  return child;
}
async function until(probe) { for (let i = 0; i < 600; i++) { if (await probe().catch(() => false)) return; await new Promise((r) => setTimeout(r, 50)); } throw new Error('not ready'); }

async function silo(name, env) {
  const port = await freePort();
  launch('RelayCluster.Silo', ['--urls', `http://127.0.0.1:${port}`], {
    ASPNETCORE_ENVIRONMENT: 'Production', Logging__LogLevel__Default: 'Warning', Relay__AdminKey: 'admin-bench-7e3a9c1f5d2b8e4a',
    Relay__UsageLog__Path: mkdtempSync(path.join(tmpdir(), `bench-${name}-`)), Relay__Tenants__b__Keys__0: 'sk-bench',
    Relay__Tenants__b__Models__0: '*', ...env,
  });
  const origin = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${origin}/readyz`)).ok);
  return origin;
}
const provider = (id, url, extra = {}) => Object.fromEntries(Object.entries({ Type: 'openai', BaseUrl: url, ApiKey: 'k', ...extra })
  .map(([k, v]) => [`Relay__Providers__${id}__${k}`, String(v)]));
const model = (name, prov) => ({ [`Relay__Models__${name}__Provider`]: prov, [`Relay__Models__${name}__UpstreamModel`]: 'mock-fast' });

async function call(origin, modelName, stream) {
  const started = process.hrtime.bigint();
  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: 'Bearer sk-bench', 'content-type': 'application/json' },
    body: JSON.stringify({ model: modelName, stream, max_tokens: 4, messages: [{ role: 'user', content: 'bench [[sim tokens=2]]' }] }),
  });
  const reader = res.body.getReader();
  await reader.read(); // first bytes
  const firstByte = Number(process.hrtime.bigint() - started) / 1e6;
  while (!(await reader.read()).done);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  return { firstByte, total: Number(process.hrtime.bigint() - started) / 1e6 };
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

try {
  const mockPort = await freePort();
  launch('RelayCluster.MockUpstream', ['--port', String(mockPort), '--api-key', 'k'], {});
  await until(async () => (await fetch(`http://127.0.0.1:${mockPort}/v1/models`, { headers: { authorization: 'Bearer k' } })).ok);
  const mockUrl = `http://127.0.0.1:${mockPort}/v1`;
  const deadUrl = `http://127.0.0.1:${await freePort()}/v1`;

  const full = await silo('full', { ...provider('m', mockUrl), ...model('x', 'm') });
  const minimal = await silo('minimal', { ...provider('m', mockUrl, { 'Resilience__MaxAttempts': 1, 'Resilience__MinimumThroughput': 1_000_000_000 }), ...model('x', 'm') });
  const failover = await silo('failover', {
    ...provider('dead', deadUrl, { 'Resilience__MaxAttempts': 1, 'Resilience__MinimumThroughput': 1_000_000_000 }), ...provider('live', mockUrl),
    ...model('primary', 'dead'), ...model('fallback', 'live'),
    Relay__Routes__chain__Targets__0__Model: 'primary', Relay__Routes__chain__Targets__1__Model: 'fallback',
  });

  for (const o of [full, minimal]) for (let i = 0; i < 2000; i++) await call(o, 'x', false); // warm-up (JIT, PGO)
  const diffs = [], fullAll = [], minAll = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = [], b = [];
    for (let i = 0; i < PER_ROUND; i++) { a.push((await call(full, 'x', false)).total); b.push((await call(minimal, 'x', false)).total); }
    fullAll.push(...a); minAll.push(...b);
    diffs.push((median(a) - median(b)) * 1000);
  }
  console.log(`happy path, non-streaming, ${ROUNDS}×${PER_ROUND} interleaved: p50 default ${median(fullAll).toFixed(3)} ms, minimal ${median(minAll).toFixed(3)} ms`);
  console.log(`  added by retries+breaker strategies: median of per-round p50 differences ${median(diffs).toFixed(1)} µs (rounds: ${diffs.map((d) => d.toFixed(0)).join(', ')}); mean difference ${((mean(fullAll) - mean(minAll)) * 1000).toFixed(1)} µs`);

  for (let i = 0; i < 300; i++) { await call(failover, 'chain', true); await call(failover, 'fallback', true); }
  const viaDead = [], direct = [];
  for (let i = 0; i < 1000; i++) { viaDead.push((await call(failover, 'chain', true)).firstByte); direct.push((await call(failover, 'fallback', true)).firstByte); }
  console.log(`failover (connection refused → fallback), streaming, 1000 each: first byte p50 ${median(viaDead).toFixed(3)} ms, p99 ${[...viaDead].sort((a, b) => a - b)[989].toFixed(3)} ms, max ${Math.max(...viaDead).toFixed(3)} ms; fallback direct p50 ${median(direct).toFixed(3)} ms → failover adds ${(median(viaDead) - median(direct)).toFixed(3)} ms at p50`);
} finally {
  for (const c of children) c.kill('SIGTERM');
}
