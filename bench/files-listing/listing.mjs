// Tenant a's chat latency while tenant b (holding many files) lists its files in a loop.
// Usage: node listing.mjs seed N | node listing.mjs measure REQUESTS LISTERS LIMIT   (env: SILO, KEY_A, KEY_B)
const silo = process.env.SILO;
const [mode, ...args] = process.argv.slice(2);

async function seed(n) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const form = new FormData();
      form.append('purpose', 'user_data');
      form.append('file', new Blob(['x'.repeat(100)]), 'f.txt');
      const r = await fetch(`${silo}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${process.env.KEY_B}` }, body: form });
      if (r.status !== 200) throw new Error(`upload ${r.status} ${await r.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

function percentile(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]; }

async function measure(requests, listers, limit) {
  let stop = false;
  let lists = 0;
  const lister = async () => {
    while (!stop) {
      const r = await fetch(`${silo}/v1/files${limit === 'default' ? '' : `?limit=${limit}`}`, { headers: { authorization: `Bearer ${process.env.KEY_B}` } });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`list ${r.status}`);
      lists++;
    }
  };
  const running = Array.from({ length: listers }, lister);
  const body = JSON.stringify({ model: 'mock-fast', messages: [{ role: 'user', content: 'hello' }] });
  const latencies = [];
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    const r = await fetch(`${silo}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${process.env.KEY_A}`, 'content-type': 'application/json' }, body });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`chat ${r.status}`);
    latencies.push(performance.now() - t);
  }
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(running);
  latencies.sort((x, y) => x - y);
  console.log(JSON.stringify({ listers, limit, chat_p50_ms: +percentile(latencies, 0.5).toFixed(2), chat_p99_ms: +percentile(latencies, 0.99).toFixed(2), lists_per_s: Math.round(lists / seconds) }));
}

if (mode === 'seed') await seed(Number(args[0]));
else await measure(Number(args[0]), Number(args[1]), args[2]);
