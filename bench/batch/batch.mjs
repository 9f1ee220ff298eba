// Drives one batch benchmark run against a running silo and MockUpstream (started by run.sh):
//   direct  — the same N requests sent straight to MockUpstream by a closed loop of C workers (the baseline:
//             what the upstream's latency allows at the batch's default concurrency);
//   batch   — the N requests as one batch: upload, create, poll until it ends; wall time from create to end.
// Prints one JSON line. Usage: node batch.mjs <mode> <n> (env SILO, MOCK, KEY, MOCK_KEY, CONCURRENCY)
const [mode, nArg] = process.argv.slice(2);
const n = Number(nArg);
const { SILO, MOCK, KEY, MOCK_KEY } = process.env;
const concurrency = Number(process.env.CONCURRENCY || 64);
const body = (i) => ({ model: 'remote-fast', messages: [{ role: 'user', content: `bench row ${i}` }], max_tokens: 16 });

if (mode === 'direct') {
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
  console.log(JSON.stringify({ mode, n, concurrency, seconds: (performance.now() - started) / 1000 }));
} else {
  const auth = { authorization: `Bearer ${KEY}` };
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: body(i) })).join('\n');
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', new Blob([lines]), 'bench.jsonl');
  const file = await (await fetch(`${SILO}/v1/files`, { method: 'POST', headers: auth, body: form })).json();
  const started = performance.now();
  const created = await (await fetch(`${SILO}/v1/batches`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
  })).json();
  let batch;
  for (;;) {
    batch = await (await fetch(`${SILO}/v1/batches/${created.id}`, { headers: auth })).json();
    if (['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const out = await (await fetch(`${SILO}/v1/files/${batch.output_file_id}/content`, { headers: auth })).text();
  const lineCount = out.split('\n').filter(Boolean).length;
  console.log(JSON.stringify({ mode, n, seconds, status: batch.status, counts: batch.request_counts, outputLines: lineCount }));
}
