// Budget alerts across the cluster: three silos on one Redis, a webhook receiver in this process (real HTTP on
// loopback, the relay's global Relay__Alerts__WebhookUrl). 100 concurrent calls, spread over the silos, cross a
// tenant's alert and pause thresholds: exactly one alert and one pause reach the receiver, the next call is refused
// with 403 tenant_paused on every silo, and an admin's resume on one silo lets calls through on another. Then a
// pending delivery outlives the SIGKILL of the silo hosting the tenant's grain: the alerts reminder (Redis) revives it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { kill9, startCluster, waitFor } from './cluster-harness.mjs';

const CALLS = 100;
const MODEL = 'remote-fast';
const SECRET_PATH = '/hooks/T0000/B0000/cluster-secret';
const BODY = { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'spend toward the thresholds [[sim tokens=16]]' }] };

/** A webhook receiver keeping every POST (parsed body, Idempotency-Key header); 500 while `failing(body)`, else 200. */
function startReceiver() {
  const posts = [];
  const receiver = { posts, failing: () => false };
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => { text += chunk; });
    req.on('end', () => {
      if (req.method === 'POST' && req.url === SECRET_PATH) {
        const body = JSON.parse(text);
        const failed = receiver.failing(body);
        posts.push({ body, key: req.headers['idempotency-key'], failed });
        res.writeHead(failed ? 500 : 200).end(failed ? 'down' : 'ok');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(Object.assign(receiver, {
    url: `http://127.0.0.1:${server.address().port}${SECRET_PATH}`,
    close: () => new Promise((done) => server.close(done)),
  }))));
}

let receiver;
let cluster;
before(async () => {
  receiver = await startReceiver();
  cluster = await startCluster({
    silos: 3,
    tenants: { probe: { key: 'sk-cluster-alerts-probe-7f3a9c2e' } },
    // A failed attempt waits a minute for its retry: the crash test's delivery can only come from the revived grain.
    env: { Relay__Alerts__WebhookUrl: receiver.url, Relay__Alerts__FirstRetrySeconds: '60', Relay__Alerts__MaxRetrySeconds: '60' },
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
    assert.equal(ids.length, 2, 'exactly one alert and one pause reached the receiver');
    const incarnation = /^spender@([0-9a-f]{8}):/.exec(ids[0])?.[1];
    assert.ok(incarnation, `the event id names the tenant's incarnation: ${ids[0]}`);
    assert.deepEqual(ids, [`spender@${incarnation}:${month}:alert`, `spender@${incarnation}:${month}:pause`]);
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
    assert.equal(receiver.posts.filter((p) => p.body.tenant === 'spender').length, 2);
  });

  test('a pending webhook survives kill -9 of the silo hosting the tenant\'s grain: the reminder revives and delivers it', { timeout: 240_000 }, async (t) => {
    const { silos } = cluster;
    receiver.failing = (body) => body.tenant === 'crashy';
    const created = await silos[0].request('POST', '/admin/tenants', {
      body: { id: 'crashy', monthly_budget_usd: 1, alert_threshold: 0.000001, pause_threshold: 0 }, // the first call crosses the alert
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await silos[0].chat(created.body.key.key, BODY)).status, 200);
    const pending = await waitFor(async () => {
      const { body } = await silos[1].admin('/admin/tenants/crashy/alerts');
      const delivery = body.crossings?.[0]?.delivery;
      return delivery?.attempts === 1 && delivery.status === 'pending' ? delivery : false;
    }, { what: 'the first attempt to fail and be recorded' });
    assert.equal(pending.last_error, 'HTTP 500');

    const host = await cluster.tenantGrainHost('crashy');
    assert.ok(host, 'the tenant grain endpoint names its silo');
    await kill9(host);
    receiver.failing = () => false;
    const started = Date.now();
    // No call reaches the tenant from here on until the delivery arrived: only the reminder can revive its grain.
    await waitFor(async () => receiver.posts.some((p) => p.body.tenant === 'crashy' && !p.failed),
      { timeoutMs: 200_000, intervalMs: 200, what: 'the pending alert to be delivered after the crash' });
    t.diagnostic(`delivered ${Date.now() - started} ms after the kill of ${host.label}`);
    const survivor = silos.find((s) => s.alive);
    const { body } = await survivor.admin('/admin/tenants/crashy/alerts');
    const crossing = body.crossings[0];
    assert.deepEqual([crossing.kind, crossing.delivery.status, crossing.delivery.attempts], ['alert', 'delivered', 2]);
    const posts = receiver.posts.filter((p) => p.body.tenant === 'crashy');
    assert.deepEqual(posts.map((p) => [p.body.id, p.failed]), [[crossing.id, true], [crossing.id, false]]);
  });
});
