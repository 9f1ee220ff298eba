// Writes bench/batch/run.sh's report (markdown, on stdout) from the batch.mjs lines it collected (RESULTS, one JSON a line)
// and the run's description in the environment (see run.sh).
import { readFileSync } from 'node:fs';

const env = process.env;
const n = Number(env.N), big = Number(env.BIG), latency = Number(env.LATENCY_MS), silos = Number(env.CLUSTER_SILOS);
const results = readFileSync(env.RESULTS, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
const find = (phase, build, mode = 'batch') => results.find((r) => r.phase === phase && r.build === build && r.mode === mode);
const floor = (items, inFlight) => (items * latency) / 1000 / inFlight;
const floors = { a: floor(n, 64), b: floor(big, 64), c: floor(n, 64 * silos) };
const count = (x) => x.toLocaleString('en-US');
const fixed = (x, digits = 2) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(digits));
const ok = (r) => r?.status === 'completed';
const peak = (r) => (r?.peakRss?.silo ? Math.max(...r.peakRss.silo) : null);
const perItemUs = (r, group) => (ok(r) && r.cpu?.[group] !== undefined ? (r.cpu[group] / r.n) * 1e6 : null);
/** The run's status when it is not `completed`, so a failure is never shown as a figure. */
const failed = (r) => (!r ? 'not run' : r.status === 'error' ? `error: ${r.error}`
  : r.status === 'did not complete' ? `did not complete in ${r.timeoutSeconds} s (${r.counts?.completed ?? '?'} of ${count(r.n)} done, ${r.lastStatus})`
  : r.status);
const verdict = (met) => (met ? 'met' : '**NOT met**');

const rows = [];
// row(figure, target, cell(r) for old and new, value(r) for the ratio)
// (`partial`: also a run that did not complete, e.g. its peak RSS until the timeout.)
function row(figure, target, phase, cell, value, mode, partial) {
  const [old, neu] = ['old', 'new'].map((build) => find(phase, build, mode));
  const show = (r) => (mode === 'direct' ? (r ? cell(r) : 'not run')
    : ok(r) ? cell(r) : partial && r?.status === 'did not complete' ? `${cell(r)} until the timeout` : failed(r));
  const a = old && value(old), b = neu && value(neu);
  const ratio = mode === 'direct' || (ok(old) && ok(neu)) ? (a && b ? (b / a).toFixed(2) : '–') : '–';
  rows.push(`| ${figure} | ${target} | ${show(old)} | ${show(neu)} | ${ratio} |`);
}
const wall = (r) => r.seconds;
const wallCell = (target) => (r) => `${fixed(r.seconds)} s, ${fixed(r.seconds / floors[r.phase])}× floor${target ? ` (${verdict(r.seconds <= target)})` : ''}`;

row(`a) ${count(n)} items, embedded: wall time create → completed`, `≤ 10 s (floor ${fixed(floors.a)} s)`, 'a', wallCell(10), wall);
row(`a) the floor measured: ${count(n)} requests straight to MockUpstream, 64 at a time`, `${fixed(floors.a)} s computed`, 'a',
  (r) => (r.status === 'error' ? `error: ${r.error}` : `${fixed(r.seconds)} s`), wall, 'direct');
row(`b) ${count(big)} items, embedded: completes, every line in the output`, `completed, ${count(big)} lines`, 'b',
  (r) => `completed, ${count(r.outputLines ?? 0)} lines (${verdict(r.outputLines === big)})`, () => null);
row(`b) ${count(big)} items: peak RSS (VmHWM) of the silo`, '≤ 250 MB', 'b', (r) => `${fixed(peak(r), 1)} MB${ok(r) ? ` (${verdict(peak(r) <= 250)})` : ''}`, peak, 'batch', true);
row(`b) ${count(big)} items: wall time`, `floor ${fixed(floors.b, 1)} s`, 'b', wallCell(), wall);
row(`c) cluster (${silos} silo${silos > 1 ? 's' : ''}, Redis), ${count(n)} items: wall time`, `floor ${fixed(floors.c)} s (64 in flight a silo)`, 'c', wallCell(), wall);
row(`c) redis-server CPU per batch item`, 'lower', 'c', (r) => `${fixed(perItemUs(r, 'redis'), 0)} µs`, (r) => perItemUs(r, 'redis'));
row(`c) silo CPU per batch item (all silos)`, 'lower', 'c', (r) => `${fixed(perItemUs(r, 'silo'), 0)} µs`, (r) => perItemUs(r, 'silo'));

const detail = results.filter((r) => r.mode === 'batch').map((r) => {
  const counts = r.counts ? `${r.counts.completed}/${r.counts.failed}/${r.counts.total}` : '–';
  const rss = r.peakRss?.silo ? r.peakRss.silo.map((x) => fixed(x, 1)).join(' + ') : '–';
  const rssBefore = r.peakRssBefore?.silo ? r.peakRssBefore.silo.map((x) => fixed(x, 1)).join(' + ') : '–';
  return `| ${r.phase} | ${r.build} | ${count(r.n)} | ${ok(r) ? 'completed' : failed(r)} | ${r.outputLines ?? '–'} | ${counts} | `
    + `${fixed(r.seconds)} | ${fixed(floors[r.phase])} | ${fixed(r.cpu?.silo)} | ${fixed(perItemUs(r, 'silo'), 0)} | `
    + `${fixed(r.cpu?.redis)} | ${fixed(perItemUs(r, 'redis'), 0)} | ${rssBefore} | ${rss} |`;
});
const grains = ['old', 'new'].map((build) => {
  const grain = find('c', build)?.grain;
  if (!grain) return `${build}: not asked`;
  return `${build}: ${grain.status === 200 ? `hosted by ${grain.silo ?? '?'} (${grain.endpoint ?? '?'})` : `${grain.status}, ${grain.note}`}`;
});
const minutes = Math.floor(Number(env.ELAPSED) / 60), seconds = Number(env.ELAPSED) % 60;

console.log(`# Batch benchmark (issue 12): the build before batches on Orleans beside this checkout

Run at ${env.STARTED} by \`bench/batch/run.sh\` (N=${n}, BIG=${big}) in ${minutes} min ${seconds} s.

- Old build: ${env.OLD_BUILD}
- New build: ${env.NEW_BUILD}
- Machine: ${env.MACHINE}
- MockUpstream answers every request after ${latency} ms (16 tokens). Phases a and b: one silo, embedded store; phase c:
  ${silos} silo${silos > 1 ? 's' : ''} with \`Relay__Store=redis\` on a fresh redis-server per build (AOF on, \`appendfsync ${env.REDIS_FSYNC}\`,
  no RDB), files and batch parts on one shared directory. Each phase runs the old build, then the new; every silo is
  fresh and gets a 500-item batch first to warm up (but b's: the big batch is its first).
- Floor = items × ${latency} ms / requests in flight (64 a silo, the default \`MaxConcurrentItems\`). Wall time is from
  \`POST /v1/batches\` to the poll (every 100 ms) that saw it end; CPU is utime + stime from /proc over that window.
  Peak RSS is the silo's VmHWM: *before* is at \`POST /v1/batches\` (start-up, warm-up and the upload), *after* at the end.

## Summary: every figure next to its target

| figure | target | old build | new build | new ÷ old |
| --- | --- | ---: | ---: | ---: |
${rows.join('\n')}

## Every batch

| phase | build | items | status | output lines | completed/failed/total | wall (s) | floor (s) | silo CPU (s) | silo CPU / item (µs) | redis CPU (s) | redis CPU / item (µs) | peak RSS before (MB) | peak RSS after (MB) |
| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${detail.join('\n')}

Batch grain host in phase c (\`GET /admin/tenants/bench/batches/{id}/grain\`): ${grains.join('; ')}.
Single measurements on a shared machine: a ratio within a few percent of 1.00 is not a difference.`);
