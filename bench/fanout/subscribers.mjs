// A share of the fan-out benchmark's SignalR subscribers, in a worker thread of its own, so that parsing
// ~100k WebSocket messages/s is spread over several event loops instead of one. Receipt times are
// performance.timeOrigin + performance.now(): one wall-clock epoch (sub-millisecond) comparable across threads.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'node:events';
import * as signalR from '@microsoft/signalr';

EventEmitter.defaultMaxListeners = 5000;
const { origins, tokens, streamId, indexes } = workerData; // indexes: this worker's subscriber numbers (even = silo A)
const BATCH = 50;
// Subscribe (one message per frame) or SubscribeBatched (arrays of what was waiting: fewer frames when behind).
const METHOD = process.env.FANOUT_METHOD || 'SubscribeBatched';
const now = () => performance.timeOrigin + performance.now();

function connectHub(origin, token) {
  const c = new signalR.HubConnectionBuilder()
    .withUrl(`${origin}/hubs/streams`, { accessTokenFactory: () => token, transport: signalR.HttpTransportType.WebSockets, skipNegotiation: true })
    .configureLogging(signalR.LogLevel.None)
    .build();
  c.serverTimeoutInMilliseconds = 120_000;
  c.keepAliveIntervalInMilliseconds = 60_000;
  return c.start().then(() => c);
}

const conns = [];
for (let i = 0; i < indexes.length; i += BATCH) {
  conns.push(...(await Promise.all(indexes.slice(i, i + BATCH).map((k) => (k % 2 === 0 ? connectHub(origins.A, tokens.A) : connectHub(origins.B, tokens.B))))));
}
parentPort.postMessage({ type: 'connected' });

parentPort.once('message', async () => {
  const subs = conns.map((c, i) => {
    const sub = { silo: indexes[i] % 2 === 0 ? 'A' : 'B', seqs: [], times: [], datas: [], completed: false, error: null, other: [] };
    sub.done = new Promise((resolve) => {
      c.stream(METHOD, streamId, 1).subscribe({
        next: (item) => {
          const t = now();
          for (const m of Array.isArray(item) ? item : [item]) {
            if (m.type === 'token') { sub.seqs.push(m.sequence); sub.times.push(t); sub.datas.push(m.data); }
            else if (m.type === 'completed') sub.completed = true;
            else if (m.type === 'failed') sub.error = `failed: ${JSON.stringify(m.data)}`;
            else sub.other.push(m); // gap / lagged notices
          }
        },
        complete: resolve,
        error: (e) => { sub.error = String(e?.message || e); resolve(); },
      });
    });
    return sub;
  });
  parentPort.postMessage({ type: 'subscribed', at: now() });
  await Promise.race([Promise.all(subs.map((s) => s.done)), new Promise((r) => setTimeout(r, 90_000))]);
  await Promise.all(conns.map((c) => c.stop().catch(() => {})));
  parentPort.postMessage({ type: 'results', subs: subs.map(({ done, ...s }) => s) });
});
