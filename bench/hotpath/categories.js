// `perf script` on stdin -> CPU per request by component, in µs, biggest first (bench/hotpath/profile.sh).
//   perf script -i X.perf | node categories.js --hz 1999 --requests N
// Each sample (a stack, leaf first) goes to the innermost frame that belongs to a component below. Frames of the
// runtime's own plumbing (CoreLib, threading, collections, the native runtime and libc) are passed through to their caller, so a
// dictionary lookup or an allocation inside the JSON parser counts as JSON; a sample with only such frames counts as
// "(runtime, unattributed)". Kernel samples stay kernel. One sample = 1/hz s of one CPU.
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, v, i, all) => (i % 2 ? pairs : [...pairs, [all[i].replace(/^--/, ''), all[i + 1]]]), []));
const hz = Number(args.hz ?? 1999);
const requests = Number(args.requests);
if (!(requests > 0)) {
  console.error('usage: perf script | node categories.js --hz 1999 --requests N');
  process.exit(2);
}

// A managed frame reads `addr <return type> [Assembly] Namespace.Type::Method(…)…`: only `[Assembly] Type::Method` is
// matched, so a return type or a generic argument naming another assembly does not decide.
const method = frame => frame.match(/\[[\w.]+\] [^\s(]*::[^\s(]*\(/)?.[0] ?? frame;
const passThrough = /^\[(System\.Private\.CoreLib|System\.Threading[\w.]*|System\.Runtime|System\.Collections[\w.]*)\]|\((\S*libcoreclr\.so|\S*libc\.so\.6|\S*ld-linux[^)]*)\)$|\[unknown\] \((?!\S*libclrjit)/;
// First match wins, so the specific come before the general (RelayCluster frames last among the relay's own).
const components = [
  ['kernel', /\[kernel\.kallsyms\]/],
  ['JIT compiler', /libclrjit/],
  ['metrics recording (OpenTelemetry, System.Diagnostics.Metrics)', /\[OpenTelemetry|System\.Diagnostics\.Metrics|MetricsHandler|ConnectionMetrics|HostingMetrics|KestrelMetrics|RelayMetrics/],
  ['activities, diagnostics, logging', /System\.Diagnostics\.Activity|HostingApplicationDiagnostics|DiagnosticListener|Microsoft\.Extensions\.Logging/],
  ['Orleans (messaging, scheduling, serialization)', /\[Orleans\.|OrleansCodeGen/],
  ['Polly', /\[Polly/],
  ['StackExchange.Redis', /StackExchange\.Redis|Pipelines\.Sockets/],
  ['JSON (request parse and checks, answer check, usage, System.Text.Json)', /RequestParser|StrictJson|ParameterRules|ChatParameters|MessageRules|UpstreamAnswers|AnswerCheck|ChunkInspector|UpstreamBody|ReportedUsage|System\.Text\.Json/],
  ['usage log', /JsonlUsageLedger|UsageJsonContext/],
  ['tenant book, grain, journal', /TenantBook|TenantGrain|TenantJournal|TenantImage|TenantChanges|SlidingWindow|RedisCommitArgs/],
  ['relay: other code', /RelayCluster\./],
  ['HttpClient', /System\.Net\.Http/],
  ['ASP.NET Core, Kestrel', /Microsoft\.AspNetCore|Microsoft\.Extensions/],
  ['sockets', /System\.Net\.Sockets|libSystem\.Native/],
  ['key hash (OpenSSL)', /libcrypto|libssl|System\.Security\.Cryptography/],
];

const counts = new Map();
let total = 0;
let stack = [];
function flush() {
  if (stack.length === 0) {
    return;
  }

  total++;
  let component = '(runtime, unattributed)';
  for (const frame of stack) {
    const name = method(frame);
    if (passThrough.test(name)) {
      continue;
    }

    const match = components.find(([, pattern]) => pattern.test(name));
    if (match) {
      component = match[0];
      break;
    }
  }

  counts.set(component, (counts.get(component) ?? 0) + 1);
  stack = [];
}

const lines = require('readline').createInterface({ input: process.stdin });
lines.on('line', line => (line === '' || !/^\s/.test(line) ? flush() : stack.push(line)));
lines.on('close', () => {
  flush();
  const micros = n => (n / hz / requests) * 1e6;
  console.log(`| component | µs/request | share |`);
  console.log(`| --- | ---: | ---: |`);
  [...counts].sort((a, b) => b[1] - a[1]).forEach(([name, n]) =>
    console.log(`| ${name} | ${micros(n).toFixed(1)} | ${((100 * n) / total).toFixed(1)} % |`));
  console.log(`| **all** (${total} samples, ${requests} requests) | ${micros(total).toFixed(1)} | 100 % |`);
});
