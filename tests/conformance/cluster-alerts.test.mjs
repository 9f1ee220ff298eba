// Budget alerts across the cluster: three silos on one Redis, a webhook receiver in this process (real HTTP on
// loopback, the relay's global Relay__Alerts__WebhookUrl). 100 concurrent calls, spread over the silos, cross a
// tenant's alert and pause thresholds: exactly one alert and one pause reach the receiver, the next call is refused
// with 403 tenant_paused on every silo, and an admin's resume on one silo lets calls through on another.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startCluster, waitFor } from './cluster-harness.mjs';

const CALLS = 100;
const MODEL = 'remote-fast';
const SECRET_PATH = '/hooks/T0000/B0000/cluster-secret';
const BODY = { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'spend toward the thresholds [[sim tokens=16]]' }] };

/** A webhook receiver answering 200 and keeping every POST (parsed body, Idempotency-Key header). */
function startReceiver() {
  const posts = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => { text += chunk; });
    req.on('end', () => {
      if (req.method === 'POST' && req.url === SECRET_PATH) {
        posts.push({ body: JSON.parse(text), key: req.headers['idempotency-key'] });
        res.writeHead(200).end('ok');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    posts,
    url: `http://127.0.0.1:${server.address().port}${SECRET_PATH}`,
    close: () => new Promise((done) => server.close(done)),
  })));
}

let receiver;
let cluster;
before(async () => {
  receiver = await startReceiver();
  cluster = await startCluster({
    silos: 3,
    tenants: { probe: { key: 'sk-cluster-alerts-probe-7f3a9c2e' } },
    env: { Relay__Alerts__WebhookUrl: receiver.url },
  });
});
after(async () => {
  await cluster?.stop();
  await receiver?.close();
});

describe('budget alerts over 3 silos', () => {
  test(`${CALLS} concurrent calls crossing both thresholds: one alert, one pause, then 403 until an admin resumes`, async (t) => {
    const { silos } = cluster;

    // What one call costs, from a tenant without limits; the budget is sized from it so that the calls that fit
    // cross the pause threshold (0.5) whatever share of them the holds let in at once.
    assert.equal((await silos[0].chat('sk-cluster-alerts-probe-7f3a9c2e', BODY)).status, 200);
    const cost = (await waitFor(async () => {
      const q = await silos[1].quota('probe');
      return q.in_flight === 0 && q.spent_nanos > 0 ? q : false;
    }, { what: 'the probe call to settle' })).spent_nanos;
    const budgetNanos = 60 * cost;
    const created = await silos[1].request('POST', '/admin/tenants', {
      body: { id: 'spender', monthly_budget_usd: budgetNanos / 1e9, alert_threshold: 0.25, pause_threshold: 0.5 },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const key = created.body.key.key;

    const responses = await Promise.all(Array.from({ length: CALLS }, (_, i) => silos[i % silos.length].chat(key, BODY)));
    const counts = {};
    for (const r of responses) {
      const label = r.status === 200 ? '200' : `${r.status} ${r.body?.error?.code}`;
      counts[label] = (counts[label] ?? 0) + 1;
    }
    t.diagnostic(`cost ${cost} n$ a call, budget ${budgetNanos} n$: ${JSON.stringify(counts)}`);
    for (const label of Object.keys(counts)) {
      assert.ok(['200', '403 tenant_paused', '429 insufficient_quota'].includes(label), JSON.stringify(counts));
    }

    // The next call is refused on every silo, saying why.
    for (const silo of silos) {
      const refused = await silo.chat(key, BODY);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'tenant_paused');
      assert.match(refused.body.error.message, /pause threshold \(50%\).*must resume it or raise its budget/);
    }

    // Both crossings delivered once, seen alike from every silo.
    const alerts = await waitFor(async () => {
      const { body } = await silos[2].admin('/admin/tenants/spender/alerts');
      return body.crossings?.length === 2 && body.crossings.every((c) => c.delivery.status === 'delivered') ? body : false;
    }, { what: 'both crossings delivered' });
    assert.equal(alerts.paused_by, 'threshold');
    for (const silo of silos) {
      const { body } = await silo.admin('/admin/tenants/spender/alerts');
      assert.deepEqual(body.crossings.map((c) => [c.kind, c.delivery.status, c.delivery.attempts]),
        [['alert', 'delivered', 1], ['pause', 'delivered', 1]], `alerts on ${silo.label}`);
    }

    const month = alerts.month;
    const ids = receiver.posts.map((p) => p.body.id).sort();
    assert.deepEqual(ids, [`spender:${month}:alert`, `spender:${month}:pause`], 'exactly one alert and one pause reached the receiver');
    for (const { body, key: idempotencyKey } of receiver.posts) {
      assert.equal(idempotencyKey, body.id);
      assert.equal(body.tenant, 'spender');
      assert.equal(body.budget_usd, budgetNanos / 1e9);
      assert.ok(body.spent_usd >= body.threshold * body.budget_usd, `${body.type}: spent ${body.spent_usd} of ${body.budget_usd}`);
      assert.match(body.text, /tenant `spender`/);
    }
    const spent = (await silos[0].quota('spender')).spent_nanos;
    assert.ok(spent >= 0.5 * budgetNanos, `spent ${spent} n$ of ${budgetNanos}`);

    // An admin resumes on one silo; another serves at once, and no further webhook is sent (crossed this month).
    const resumed = await silos[1].request('POST', '/admin/tenants/spender/resume');
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.paused, false);
    assert.equal((await silos[2].chat(key, BODY)).status, 200);
    assert.equal(receiver.posts.length, 2);
  });
});
