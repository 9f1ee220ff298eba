// The cluster: three silos sharing one Redis (Relay__Store=redis). Limits and budgets must hold exactly
// across silos, a killed silo's reservations must be reclaimed after the reservation lifetime, and the
// state must survive a Redis restart (AOF), with requests failing closed while Redis is down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster-harness.mjs';

const RESERVATION_SECONDS = 5; // the minimum: the crash test waits for it
const MODEL = 'remote-fast';
// Configured prices ($/MTok) as nano-dollars a token.
const NANOS_PER_TOKEN = { input: 270, output: 1100 };

const RPM_LIMIT = 20;
const RPM_CALLS = 200;

const BUDGET_CALLS = 100;
const BUDGET_MAX_TOKENS = 16;
// ttft keeps every admitted call in flight while the others are admitted, so the holds, not the settled
// costs, decide who gets in.
const BUDGET_BODY = {
  model: MODEL,
  max_tokens: BUDGET_MAX_TOKENS,
  messages: [{ role: 'user', content: 'spend some of the budget [[sim tokens=16 ttft=300]]' }],
};
// Sized for about ten calls from the relay's documented worst-case prompt estimate (two ASCII bytes a
// token, four a message, three a prompt) plus the output cap. Only the sizing uses this rule; the
// assertions use the hold observed on a probe tenant.
const ESTIMATED_HOLD_NANOS = (() => {
  const bytes = Buffer.byteLength(BUDGET_BODY.messages[0].content);
  const promptTokens = Math.floor((bytes + 1) / 2) + 4 * BUDGET_BODY.messages.length + 3;
  return promptTokens * NANOS_PER_TOKEN.input + BUDGET_MAX_TOKENS * NANOS_PER_TOKEN.output;
})();
const BUDGET_NANOS = Math.round(ESTIMATED_HOLD_NANOS * 10.5);
const BUDGET_USD = (BUDGET_NANOS / 1e9).toFixed(9);

const TENANTS = {
  rpm: { key: 'sk-cluster-rpm', RequestsPerMinute: RPM_LIMIT },
  budget: { key: 'sk-cluster-budget', MonthlyBudgetUsd: BUDGET_USD },
  probe: { key: 'sk-cluster-probe' },
  crash: { key: 'sk-cluster-crash' },
  durable: { key: 'sk-cluster-durable', RequestsPerMinute: 1000, TokensPerMinute: 1_000_000, MaxConcurrent: 7, MonthlyBudgetUsd: '2.5' },
};

let cluster;
before(async () => {
  cluster = await startCluster({
    silos: 3,
    tenants: TENANTS,
    env: { Relay__ReservationSeconds: String(RESERVATION_SECONDS) },
  });
});
after(() => cluster?.stop());

const costOf = (usage) => usage.prompt_tokens * NANOS_PER_TOKEN.input + usage.completion_tokens * NANOS_PER_TOKEN.output;

/** Polls a tenant's quota on `silo` until nothing is in flight or reserved. */
function settledQuota(silo, tenant, timeoutMs = 10_000) {
  return waitFor(async () => {
    const quota = await silo.quota(tenant);
    return quota.in_flight === 0 && quota.reserved_nanos === 0 ? quota : false;
  }, { timeoutMs, what: `${tenant} quota on ${silo.label} to settle (in_flight 0, reserved_nanos 0)` });
}

/** Polls a tenant's usage on `silo` until it counts `requests` requests. */
function usageWithRequests(silo, tenant, requests) {
  return waitFor(async () => {
    const usage = await silo.usage(tenant);
    return usage.requests >= requests ? usage : false;
  }, { what: `${tenant} usage on ${silo.label} to count ${requests} requests` });
}

/** Counts responses by "status code" (e.g. "200", "429 rate_limit_exceeded"). */
function tally(responses) {
  const counts = {};
  for (const r of responses) {
    const key = r.status === 200 ? '200' : `${r.status} ${r.body?.error?.code ?? JSON.stringify(r.body)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe('limits are exact across silos', () => {
  test(`${RPM_CALLS} concurrent calls over 3 silos admit exactly RequestsPerMinute (${RPM_LIMIT})`, async () => {
    const { silos } = cluster;
    const body = { model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'count me [[sim tokens=2]]' }] };
    const responses = await Promise.all(
      Array.from({ length: RPM_CALLS }, (_, i) => silos[i % silos.length].chat(TENANTS.rpm.key, body)),
    );

    assert.deepEqual(tally(responses), { 200: RPM_LIMIT, '429 rate_limit_exceeded': RPM_CALLS - RPM_LIMIT });

    for (const silo of silos) {
      const quota = await silo.quota('rpm');
      assert.equal(quota.requests_in_window, RPM_LIMIT, `requests_in_window seen from ${silo.label}`);
      assert.equal(quota.limits.requests_per_minute, RPM_LIMIT);
      assert.equal(quota.remaining_requests, 0);
    }
    const usage = await usageWithRequests(silos[2], 'rpm', RPM_LIMIT);
    assert.equal(usage.requests, RPM_LIMIT);
  });

  test(`${BUDGET_CALLS} concurrent calls over 3 silos never spend more than the monthly budget`, async (t) => {
    const { silos } = cluster;

    // The hold one such call reserves, observed on a tenant without limits while the call waits for its first token.
    const probeCall = silos[0].chat(TENANTS.probe.key, BUDGET_BODY);
    const probeQuota = await waitFor(async () => {
      const quota = await silos[1].quota('probe');
      return quota.in_flight === 1 ? quota : false;
    }, { timeoutMs: 5_000, intervalMs: 10, what: 'the probe call to be in flight' });
    const hold = probeQuota.reserved_nanos;
    assert.equal((await probeCall).status, 200);
    assert.ok(hold > 0, 'a call reserves something');
    const probeSpent = (await settledQuota(silos[1], 'probe')).spent_nanos;
    assert.ok(probeSpent <= hold, `cost ${probeSpent} fits in the hold ${hold}`);

    const budgetQuota = await silos[2].quota('budget');
    assert.equal(budgetQuota.limits.monthly_budget_usd, Number(BUDGET_USD));
    assert.ok(BUDGET_NANOS >= hold, `the budget (${BUDGET_NANOS} n$) admits at least one call (hold ${hold} n$)`);
    assert.ok(BUDGET_NANOS < BUDGET_CALLS * probeSpent, 'the budget cannot pay for every call');

    const responses = await Promise.all(
      Array.from({ length: BUDGET_CALLS }, (_, i) => silos[i % silos.length].chat(TENANTS.budget.key, BUDGET_BODY)),
    );
    const counts = tally(responses);
    const ok = responses.filter((r) => r.status === 200);
    assert.deepEqual(Object.keys(counts).sort(), ['200', '429 insufficient_quota'], JSON.stringify(counts));
    assert.ok(ok.length >= 1, 'at least one call succeeded');
    // A call is refused only when spent + reserved + hold > budget, and every admitted call counts at
    // most its hold, so a refusal means at least floor(budget / hold) calls were admitted.
    assert.ok(ok.length >= Math.floor(BUDGET_NANOS / hold),
      `${ok.length} admitted, expected at least floor(${BUDGET_NANOS} / ${hold}) before any refusal`);

    const quota = await settledQuota(silos[0], 'budget');
    t.diagnostic(`hold ${hold} n$, budget ${BUDGET_NANOS} n$, admitted ${ok.length}/${BUDGET_CALLS}, spent ${quota.spent_nanos} n$`);
    assert.ok(quota.spent_nanos <= BUDGET_NANOS, `spent ${quota.spent_nanos} n$ <= budget ${BUDGET_NANOS} n$`);
    const expectedSpend = ok.reduce((sum, r) => sum + costOf(r.body.usage), 0);
    assert.equal(quota.spent_nanos, expectedSpend, 'spend is the sum of the reported usage at the configured prices');

    const usage = await usageWithRequests(silos[1], 'budget', ok.length);
    assert.equal(usage.requests, ok.length);
    assert.equal(usage.cost_nanos, quota.spent_nanos);
    assert.equal(usage.by_ending.completed, ok.length);
    for (const silo of silos) {
      const seen = await silo.quota('budget');
      assert.deepEqual([seen.spent_nanos, seen.in_flight, seen.reserved_nanos], [quota.spent_nanos, 0, 0], `quota from ${silo.label}`);
    }
  });
});

describe('a killed silo', () => {
  test('its streams\' reservations are reclaimed after the reservation lifetime; the other silos keep serving', async (t) => {
    const [silo1, silo2, silo3] = cluster.silos;
    const STREAMS = 3;
    const client = silo3.client(TENANTS.crash.key);
    const received = new Array(STREAMS).fill(0);
    const finished = new Array(STREAMS).fill(false);
    const streams = await Promise.all(Array.from({ length: STREAMS }, () => client.chat.completions.create({
      model: MODEL, stream: true, messages: [{ role: 'user', content: 'a long story [[sim tokens=400 interval=20]]' }],
    })));
    const reading = streams.map(async (stream, i) => {
      try {
        for await (const chunk of stream) {
          received[i] += 1;
          if (chunk.choices.some((c) => c.finish_reason)) finished[i] = true;
        }
        return 'ended';
      } catch (err) {
        return `error: ${err.message}`;
      }
    });

    await waitFor(() => received.every((n) => n >= 3), { timeoutMs: 10_000, what: 'a few chunks on every stream' });
    const held = await silo1.quota('crash');
    assert.equal(held.in_flight, STREAMS, 'the streams hold their slots (seen from silo1)');
    assert.ok(held.reserved_nanos > 0);

    await silo3.kill();
    const killedAt = Date.now();

    // Right after the kill, before any deadline: nobody released the dead silo's reservations.
    const rightAfter = await silo1.quota('crash');
    const rightAfterMs = Date.now() - killedAt;
    assert.equal(rightAfter.in_flight, STREAMS, `in_flight ${rightAfterMs} ms after the kill`);
    assert.equal(rightAfter.reserved_nanos, held.reserved_nanos);

    const outcomes = await Promise.all(reading);
    assert.ok(finished.every((f) => !f), `no stream finished: ${JSON.stringify(outcomes)}`);

    // The survivors serve at once.
    for (const silo of [silo1, silo2]) {
      const started = Date.now();
      const completion = await silo.client(TENANTS.crash.key, { timeout: 5_000 }).chat.completions.create({
        model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: `still here on ${silo.label} [[sim tokens=3]]` }],
      });
      assert.equal(completion.choices[0].finish_reason, 'stop');
      assert.equal(completion.usage.completion_tokens, 3);
      assert.ok(Date.now() - started < 5_000);
    }

    const settled = await settledQuota(silo1, 'crash', 15_000);
    const reclaimedAfterMs = Date.now() - killedAt;
    t.diagnostic(`in_flight ${rightAfter.in_flight} ${rightAfterMs} ms after the kill; reclaimed after ${reclaimedAfterMs} ms`);
    // The last renewal was at most a quarter of the lifetime before the kill, so the deadline is later than this.
    const earliestMs = RESERVATION_SECONDS * 1000 * 0.75 - 500;
    assert.ok(reclaimedAfterMs >= earliestMs,
      `reclaimed ${reclaimedAfterMs} ms after the kill, before the reservation lifetime allowed (${earliestMs} ms)`);
    assert.equal(settled.in_flight, 0);
    assert.equal(settled.reserved_nanos, 0);
    assert.equal((await silo2.quota('crash')).in_flight, 0);

    // Only the two finished calls were billed: the dead silo never settled its streams.
    const usage = await usageWithRequests(silo2, 'crash', 2);
    assert.equal(usage.requests, 2);
    assert.equal(settled.spent_nanos, usage.cost_nanos);
  });
});

describe('a Redis restart', () => {
  test('fails closed while Redis is down and keeps spend and limits across the restart (AOF)', async () => {
    const [silo1, silo2] = cluster.silos.filter((s) => !s.process.exitInfo);
    const key = TENANTS.durable.key;
    const call = (silo, n) => silo.chat(key, {
      model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: `durable call ${n} [[sim tokens=5]]` }],
    });

    const first = await Promise.all([call(silo1, 1), call(silo2, 2), call(silo1, 3)]);
    assert.deepEqual(first.map((r) => r.status), [200, 200, 200]);
    const beforeQuota = await settledQuota(silo1, 'durable');
    const beforeUsage = await usageWithRequests(silo2, 'durable', first.length);
    assert.equal(beforeQuota.spent_nanos, first.reduce((sum, r) => sum + costOf(r.body.usage), 0));
    assert.deepEqual(beforeQuota.limits, {
      requests_per_minute: TENANTS.durable.RequestsPerMinute,
      tokens_per_minute: TENANTS.durable.TokensPerMinute,
      max_concurrent: TENANTS.durable.MaxConcurrent,
      monthly_budget_usd: Number(TENANTS.durable.MonthlyBudgetUsd),
    });

    await cluster.redis.kill();

    // Down: not ready, and a request is refused (503 store_unavailable, Retry-After) rather than admitted.
    for (const silo of [silo1, silo2]) {
      await waitFor(async () => (await silo.readyStatus()) === 503, { timeoutMs: 10_000, what: `${silo.label} /readyz to be 503` });
    }
    const refused = await call(silo1, 4);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'store_unavailable');
    assert.ok(Number(refused.headers.get('retry-after')) > 0, `Retry-After: ${refused.headers.get('retry-after')}`);
    const refusedToo = await call(silo2, 5);
    assert.equal(refusedToo.status, 503);
    assert.equal(refusedToo.body.error.code, 'store_unavailable');

    await cluster.redis.start();
    for (const silo of [silo1, silo2]) {
      await waitFor(async () => (await silo.readyStatus()) === 200, { timeoutMs: 15_000, what: `${silo.label} /readyz to be 200 again` });
    }

    for (const silo of [silo1, silo2]) {
      const quota = await silo.quota('durable');
      assert.equal(quota.spent_nanos, beforeQuota.spent_nanos, `spent_nanos after the restart, from ${silo.label}`);
      assert.deepEqual(quota.limits, beforeQuota.limits);
      assert.equal(quota.requests_in_window, beforeQuota.requests_in_window, 'the refused calls were not counted');
      assert.equal(quota.in_flight, 0);
      assert.equal(quota.reserved_nanos, 0);
      assert.deepEqual(await silo.usage('durable'), beforeUsage);
    }

    // And the cluster works again, on both silos, booking onto the restored spend.
    const again = await Promise.all([call(silo1, 6), call(silo2, 7)]);
    assert.deepEqual(again.map((r) => r.status), [200, 200], JSON.stringify(again.map((r) => r.body)));
    const afterQuota = await settledQuota(silo2, 'durable');
    assert.equal(afterQuota.spent_nanos, beforeQuota.spent_nanos + again.reduce((sum, r) => sum + costOf(r.body.usage), 0));
    const afterUsage = await usageWithRequests(silo1, 'durable', first.length + again.length);
    assert.equal(afterUsage.requests, first.length + again.length);
    assert.equal(afterUsage.cost_nanos, afterQuota.spent_nanos);
  });
});
