// The usage report through the official SDK's traffic: its lines agree with each tenant's own usage summary (another
// reader of the same store), the CSV form carries the same numbers, and the comparison is priced as documented.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, collect, startRelay } from './harness.mjs';

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

test('the report matches the tenants usage summaries, as JSON and as CSV', async () => {
  const t1 = relay.client();
  await t1.chat.completions.create({ model: 'mock-fast', messages: [{ role: 'user', content: 'plain [[sim tokens=4]]' }] });
  await collect(await t1.chat.completions.create({
    model: 'mock-fast', messages: [{ role: 'user', content: 'streamed [[sim tokens=6]]' }], stream: true, stream_options: { include_usage: true },
  }));
  await relay.client(KEYS.t2).embeddings.create({ model: 'mock-embed', input: 'embed this' });
  await relay.settledQuota('t1');
  const u1 = await relay.usageWithRequests(2, 't1');
  const u2 = await relay.usageWithRequests(1, 't2');

  const { status, body: report } = await relay.admin('/admin/usage/report');
  assert.equal(status, 200);
  assert.equal(report.object, 'usage.report');
  for (const usage of [u1, u2]) {
    const tenant = report.data.find((t) => t.tenant === usage.tenant);
    assert.ok(tenant, `${usage.tenant} is in the report`);
    assert.deepEqual(
      [tenant.totals.requests, tenant.totals.prompt_tokens, tenant.totals.completion_tokens, tenant.totals.cost_nanos],
      [usage.requests, usage.prompt_tokens, usage.completion_tokens, usage.cost_nanos]);
    for (const line of tenant.models) {
      assert.equal(line.requests, usage.by_model[line.model].requests);
      assert.equal(line.cost_nanos, usage.by_model[line.model].cost_nanos);
    }
  }
  const t1Mock = report.data.find((t) => t.tenant === 't1').models.find((m) => m.model === 'mock-fast');
  assert.equal(t1Mock.streamed_requests, 1);
  assert.equal(t1Mock.streamed_share, 0.5);

  const csv = await fetch(`${relay.origin}/admin/usage/report`, { headers: { authorization: `Bearer ${relay.adminKey}`, accept: 'text/csv' } });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /^text\/csv/);
  const [header, ...rows] = (await csv.text()).split('\r\n').filter((l) => l.length > 0).map((l) => l.split(','));
  assert.equal(rows.length, report.data.reduce((n, t) => n + t.models.length, 0));
  const col = (name) => header.indexOf(name);
  const row = rows.find((r) => r[col('tenant')] === 't1' && r[col('model')] === 'mock-fast');
  assert.deepEqual([Number(row[col('requests')]), Number(row[col('cost_nanos')]), Number(row[col('prompt_tokens')])],
    [t1Mock.requests, t1Mock.cost_nanos, t1Mock.prompt_tokens]);

  // mock-fast at $1 input and $2 output per million: 1,000 and 2,000 n$ a token, rounded up once for the model.
  const compare = await fetch(`${relay.origin}/admin/usage/report/compare`, {
    method: 'POST',
    headers: { authorization: `Bearer ${relay.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: 't1', prices: { 'mock-fast': { input_per_mtok: 1, output_per_mtok: 2 } } }),
  });
  assert.equal(compare.status, 200);
  const priced = (await compare.json()).data.find((l) => l.model === 'mock-fast');
  assert.equal(priced.alternative_nanos, t1Mock.prompt_tokens * 1000 + t1Mock.completion_tokens * 2000);
  assert.equal(priced.current_nanos, t1Mock.cost_nanos);

  const refused = await fetch(`${relay.origin}/admin/usage/report?month=2026-13`, { headers: { authorization: `Bearer ${relay.adminKey}` } });
  assert.equal(refused.status, 400);
  assert.equal((await refused.json()).error.param, 'month');
  assert.equal((await relay.admin('/admin/usage/report', null)).status, 401);
});
