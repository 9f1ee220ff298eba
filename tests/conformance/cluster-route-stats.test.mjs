// /admin/routes/stats across a 3-silo cluster on one Redis: each silo counts the tries of the route targets it
// served, and any silo's answer sums all three (read through a grain placed on each silo). Different traffic goes
// to each silo, some of it failing (the simulator's [[sim error=503]]), and every silo must answer the sums.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from './cluster-harness.mjs';

const KEY = 'sk-cluster-route-stats-2c8e4a6f';

let cluster;
before(async () => {
  cluster = await startCluster({
    silos: 3,
    tenants: { stats: { key: KEY } },
    env: {
      Relay__Models__blue__Provider: 'mock',
      Relay__Models__blue__UpstreamModel: 'mock-fast',
      Relay__Providers__mock__Resilience__MaxAttempts: '1',
      Relay__Tenants__stats__Models__0: '*',
      Relay__Routes__app__Targets__0__Model: 'blue',
    },
  });
});
after(() => cluster?.stop());

async function send(silo, ok, failed) {
  // The failures last: a breaker they might open cannot turn a call meant to succeed into a failure.
  for (let i = 0; i < ok + failed; i++) {
    const fail = i >= ok;
    const content = fail ? `fail ${i} [[sim error=503]]` : `hi ${i} [[sim tokens=2]]`;
    const r = await silo.chat(KEY, { model: 'app', max_tokens: 2, messages: [{ role: 'user', content }] });
    assert.equal(r.status, fail ? 503 : 200, `${silo.label}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  }
}

describe('route stats across silos', () => {
  test('every silo answers the sums of the traffic sent to all three', async () => {
    const sent = [[3, 0], [3, 1], [4, 2]];
    await Promise.all(cluster.silos.map((silo, i) => send(silo, ...sent[i])));
    const requests = sent.reduce((sum, [ok, failed]) => sum + ok + failed, 0);
    const errors = sent.reduce((sum, [, failed]) => sum + failed, 0);

    // Each silo served 3, 4 and 6 of the 13 tries: an answer of 13 on every silo is the sum over all three.
    for (const silo of cluster.silos) {
      const r = await silo.request('GET', '/admin/routes/stats');
      assert.equal(r.status, 200, `${silo.label}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.window_seconds, 60);
      const row = r.body.data.find((d) => d.model === 'app' && d.alternative === 'default' && d.target === 'blue');
      assert.ok(row, JSON.stringify(r.body));
      assert.deepEqual([row.provider, row.requests, row.errors, row.error_rate], ['mock', requests, errors, Number((errors / requests).toFixed(4))],
        `${silo.label}: ${JSON.stringify(row)}`);
      assert.ok(row.p50_ms > 0 && row.p99_ms >= row.p50_ms, JSON.stringify(row));
      assert.ok(['closed', 'open', 'half_open'].includes(row.breaker), row.breaker);
    }
  });
});
