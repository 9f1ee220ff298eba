// The admin console (/admin/) in headless Chromium (Debian's, driven by playwright-core) against a real silo:
// sign in, a wrong key sees nothing, a tenant's spend moves in the table without a reload, route weights and a
// rollback changed from the page steer the next requests, a batch is cancelled from the page, one flow by keyboard
// only, and a phone-width viewport. Screenshots go to tests/conformance/artifacts/console/ (gitignored).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ADMIN_KEY, KEYS, startRelay, waitFor } from './harness.mjs';
import { chatLine, uploadLines } from './batch-helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts', 'console');

let relay;
let browser;
let profile;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  mkdirSync(SHOTS, { recursive: true });
  relay = await startRelay({ env: {
    // A route before its rollout: canary sends everything to mock-fast; remote-fast is drained (weight 0).
    Relay__Routes__app__Active: 'canary',
    Relay__Routes__app__Alternatives__canary__Targets__0__Model: 'mock-fast',
    Relay__Routes__app__Alternatives__canary__Targets__0__Weight: '100',
    Relay__Routes__app__Alternatives__canary__Targets__1__Model: 'remote-fast',
    Relay__Routes__app__Alternatives__canary__Targets__1__Weight: '0',
    Relay__Routes__app__Alternatives__stable__Targets__0__Model: 'mock-fast',
    // A route with a slash in its name, as provider-style names have (org/model): the page addresses it escaped.
    'Relay__Routes__org/app__Active': 'a',
    'Relay__Routes__org/app__Alternatives__a__Targets__0__Model': 'mock-fast',
    'Relay__Routes__org/app__Alternatives__b__Targets__0__Model': 'remote-fast',
  } });
  profile = mkdtempSync(path.join(tmpdir(), 'relay-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await relay?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot: ${file}`);
}

/** A fresh page that records CSP violations, then signed in with `key`. */
async function openConsole(key = ADMIN_KEY, viewport) {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  page.violations = [];
  page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) page.violations.push(m.text()); });
  await page.goto(`${relay.origin}/admin/`);
  await page.fill('#admin-key', key);
  await page.click('#sign-in button[type=submit]');
  return page;
}

/** The model a chat for `model` was served by (x-relay-model). */
async function servedBy(model = 'app') {
  const { response } = await relay.client().chat.completions.create({ model, max_tokens: 2, messages: [{ role: 'user', content: 'hi [[sim tokens=2]]' }] }).withResponse();
  return response.headers.get('x-relay-model');
}

test('the page and its assets are public and locked down; every admin data path still needs the key', async () => {
  for (const p of ['/admin/', '/admin', '/admin/console/app.js', '/admin/console/console.css', '/admin/console/signalr.min.js']) {
    const res = await fetch(relay.origin + p);
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/, p);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const text = await res.text();
    assert.ok(!text.includes(KEYS.t1) && !text.includes('"spent_usd":'), `${p} holds no data`);
  }
  assert.equal((await fetch(`${relay.origin}/admin/console/nope.js`)).status, 404);
  for (const [method, p] of [['GET', '/admin/tenants'], ['GET', '/admin/routes'], ['GET', '/admin/cluster'], ['GET', '/admin/tenants/t1/usage'],
    ['POST', '/admin/console/token'], ['GET', '/admin/routes/stats'], ['GET', '/admin/batches']]) {
    for (const key of [null, 'wrong-admin-key']) {
      const res = await fetch(relay.origin + p, { method, headers: key ? { authorization: `Bearer ${key}` } : {} });
      // Routes this silo does not have yet (the hub token, stats, batches) answer 404 or 405: no data either.
      assert.ok([401, 404, 405].includes(res.status), `${method} ${p} with ${key ?? 'no key'}: ${res.status}`);
      if (['/admin/tenants', '/admin/routes', '/admin/cluster', '/admin/tenants/t1/usage'].includes(p)) assert.equal(res.status, 401, p);
    }
  }
});

test('a wrong admin key sees a clear error and no data', async () => {
  const page = await browser.newPage();
  const answered = [];
  page.on('response', (r) => { if (new URL(r.url()).pathname.startsWith('/admin/') && !r.url().includes('/admin/console/') && new URL(r.url()).pathname !== '/admin/') answered.push(r.status()); });
  await page.goto(`${relay.origin}/admin/#/tenants`);
  await page.fill('#admin-key', 'not-the-admin-key');
  await page.press('#admin-key', 'Enter');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /not valid/);
  assert.equal(await page.isHidden('#view'), true);
  assert.equal(await page.isHidden('#nav'), true);
  assert.ok(!(await page.textContent('body')).includes('t1'), 'no tenant shown');
  assert.ok(answered.length > 0 && answered.every((s) => s === 401), `every admin call was refused: ${answered}`);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a wrong key is not kept');
  await shot(page, 'wrong-key');
  await page.close();
});

test('a tenant\'s spend moves in the table without a reload; limits edited on its page', async () => {
  const page = await openConsole();
  await page.waitForSelector('#tenants tr[data-tenant="t1"]');
  // Give t1 a budget from its page, so the bar has something to measure against.
  await page.click('#tenants tr[data-tenant="t1"] a');
  await page.waitForSelector('#f-monthly_budget_usd');
  await page.fill('#f-monthly_budget_usd', '0.01');
  await page.fill('#f-alert_threshold', '50');
  await page.click('#limits button[type=submit]');
  await waitFor(async () => (await relay.admin('/admin/tenants/t1')).body.quota.limits.monthly_budget_usd === 0.01, { what: 'the PATCH from the page' });
  assert.equal((await relay.admin('/admin/tenants/t1/alerts')).body.alert_threshold, 0.5);
  await page.click('a[href="#/tenants"]');
  await page.waitForFunction(() => document.querySelector('#tenants tr[data-tenant="t1"] .spent-text')?.textContent.includes('of $0.01'));
  const before = await page.textContent('#tenants tr[data-tenant="t1"] .spent-text');
  await page.evaluate(() => { window.notReloaded = true; });
  for (let i = 0; i < 3; i += 1) await servedBy('mock-fast');
  const spent = (await relay.settledQuota('t1')).spent_usd;
  const after = await page.waitForFunction((s) => {
    const text = document.querySelector('#tenants tr[data-tenant="t1"] .spent-text')?.textContent;
    return text && text.startsWith(`$${s.toFixed(6)}`) ? text : false;
  }, spent, { timeout: 10_000 });
  assert.notEqual(await after.jsonValue(), before);
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
  assert.ok(await page.isVisible('#tenants tr[data-tenant="t1"] .bar .mark.alert'), 'the alert threshold mark is drawn');
  assert.deepEqual(page.violations, []);
  await shot(page, 'tenants');
  await page.click('#tenants tr[data-tenant="t1"] a');
  await page.waitForSelector('figure svg.chart');
  await shot(page, 'tenant-t1');
  await page.close();
});

test('route weights and a rollback changed from the page steer the next requests', async () => {
  const page = await openConsole();
  await page.click('a[href="#/routes"]');
  const remote = 'section[data-route="app"] [data-alternative="canary"] tr[data-target="remote-fast"]';
  await page.waitForSelector(remote);
  for (let i = 0; i < 5; i += 1) assert.equal(await servedBy(), 'mock-fast');
  await page.click(`${remote} button[aria-label="100 % to remote-fast"]`);
  assert.match(await page.textContent('#confirm-text'), /remote-fast 100 \(100 %\), mock-fast 0 \(0 %\)/);
  await page.click('#confirm-ok');
  await waitFor(async () => (await relay.admin('/admin/routes/app')).body.alternatives.canary.targets.find((t) => t.model === 'remote-fast').weight === 100,
    { what: 'weights from the page' });
  for (let i = 0; i < 10; i += 1) assert.equal(await servedBy(), 'remote-fast');
  await page.waitForSelector(`${remote} td.num >> text=100 %`);
  await shot(page, 'routes');
  // Roll back: activate stable (mock-fast only).
  await page.click('section[data-route="app"] [data-alternative="stable"] button');
  await page.click('#confirm-ok');
  await waitFor(async () => (await relay.admin('/admin/routes/app')).body.active === 'stable', { what: 'activate from the page' });
  for (let i = 0; i < 10; i += 1) assert.equal(await servedBy(), 'mock-fast');
  assert.deepEqual(page.violations, []);
  await page.close();
});

test('a route with a slash in its name is activated from the page', async () => {
  const page = await openConsole();
  await page.click('a[href="#/routes"]');
  await page.click('section[data-route="org/app"] [data-alternative="b"] button');
  await page.click('#confirm-ok');
  await waitFor(async () => (await relay.admin(`/admin/routes/${encodeURIComponent('org/app')}`)).body.active === 'b', { what: 'activate org/app from the page' });
  await page.waitForSelector('section[data-route="org/app"] [data-alternative="b"] .badge.active');
  assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
  await page.close();
});

test('a tenant created, paused and deleted while the table is open comes, changes and goes without a reload', async () => {
  const page = await openConsole();
  await page.waitForSelector('#tenants tr[data-tenant="t1"]');
  await page.evaluate(() => { window.notReloaded = true; });
  const ids = Array.from({ length: 12 }, (_, i) => `live-${String(i).padStart(2, '0')}`);
  const call = (method, p, body) => fetch(relay.origin + p, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  for (const id of ids) assert.equal((await call('POST', '/admin/tenants', { id })).status, 201);
  await page.waitForFunction((n) => document.querySelectorAll('#tenants tr[data-tenant^="live-"]').length === n, ids.length);
  assert.deepEqual(await page.$$eval('#tenants tbody tr', (trs) => trs.map((tr) => tr.dataset.tenant).filter((id) => id.startsWith('live-'))), ids, 'kept in id order');
  assert.equal((await call('POST', `/admin/tenants/${ids[0]}/pause`)).status, 200);
  await page.waitForSelector(`#tenants tr[data-tenant="${ids[0]}"] .badge.paused`);
  // Deleted at once (a cleanup script): every row leaves.
  await Promise.all(ids.map(async (id) => assert.equal((await call('DELETE', `/admin/tenants/${id}`)).status, 200)));
  await page.waitForFunction(() => document.querySelectorAll('#tenants tr[data-tenant^="live-"]').length === 0);
  assert.match(await page.textContent('#view p.muted'), /^\d+ tenants$/);
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
  assert.equal(await page.textContent('#live-status'), 'Live', 'through the admin hub, not the polling fallback');
  await page.close();
});

test('a batch is cancelled from the page', async () => {
  const client = relay.client();
  const lines = Array.from({ length: 40 }, (_, i) => chatLine(`slow-${i}`, 'remote-fast', `slow ${i} [[sim ttft=3000 tokens=2]]`));
  const input = await uploadLines(client, lines, 'console.jsonl');
  const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const page = await openConsole();
  await page.click('a[href="#/batches"]');
  const row = `#batches tr[data-batch="${batch.id}"]`;
  await page.waitForSelector(`${row} button`);
  assert.equal(await page.textContent(`${row} td:nth-child(2)`), 't1');
  await shot(page, 'batches');
  await page.getByRole('button', { name: `Cancel ${batch.id}`, exact: true }).click();
  await page.click('#confirm-ok');
  await waitFor(async () => ['cancelling', 'cancelled'].includes((await client.batches.retrieve(batch.id)).status), { what: 'the batch to be cancelled' });
  await page.waitForFunction((sel) => /cancel/.test(document.querySelector(sel)?.textContent ?? ''), `${row} td.status`);
  await page.close();
});

test('a deleted tenant\'s batches leave the batches table without a reload', async () => {
  const call = (method, p, body) => fetch(relay.origin + p, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const created = await (await call('POST', '/admin/tenants', { id: 'doomed' })).json();
  const client = relay.client(created.key.key ?? created.key);
  const input = await uploadLines(client, [chatLine('doomed-0', 'remote-fast', 'doomed [[sim ttft=20000 tokens=2]]')], 'doomed.jsonl');
  const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const page = await openConsole();
  await page.click('a[href="#/batches"]');
  await page.waitForSelector(`#batches tr[data-batch="${batch.id}"] button`);
  await page.evaluate(() => { window.notReloaded = true; });
  assert.equal((await call('DELETE', '/admin/tenants/doomed')).status, 200);
  // It stayed "in_progress" with a Cancel button that could only answer 404.
  await page.waitForSelector(`#batches tr[data-batch="${batch.id}"]`, { state: 'detached' });
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  await page.close();
});

test('keyboard only: sign in, reach a tenant and pause it', async () => {
  const page = await browser.newPage();
  await page.goto(`${relay.origin}/admin/`);
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return { text: el?.textContent?.trim() ?? '', id: el?.id, outline: getComputedStyle(el).outlineStyle };
  });
  /** Presses Tab until the focused element matches, at most 60 times. */
  const tabTo = async (match) => {
    for (let i = 0; i < 60; i += 1) {
      await page.keyboard.press('Tab');
      const f = await focused();
      if (match(f)) return f;
    }
    throw new Error('focus never reached the element');
  };
  await tabTo((f) => f.id === 'admin-key');
  await page.keyboard.type(ADMIN_KEY);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#tenants tr[data-tenant="t3"]');
  const link = await tabTo((f) => f.text === 't3');
  assert.notEqual(link.outline, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#pause-toggle');
  await tabTo((f) => f.id === 'pause-toggle');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#confirm[open]');
  await page.keyboard.press('Enter'); // Confirm has the focus
  await waitFor(async () => (await relay.admin('/admin/tenants/t3')).body.paused === true, { what: 't3 paused from the keyboard' });
  await page.waitForFunction(() => document.querySelector('#pause-toggle')?.textContent === 'Resume');
  await shot(page, 'keyboard-paused');
  await page.close();
});

test('a phone-width viewport fits without sideways scrolling, on every view and in every table', async () => {
  // A batch still running, so the batches table has a row with its Cancel button.
  const input = await uploadLines(relay.client(), [chatLine('phone-0', 'remote-fast', 'phone [[sim ttft=20000 tokens=2]]')], 'phone.jsonl');
  const batch = await relay.client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const page = await openConsole(ADMIN_KEY, { width: 375, height: 740 });
  await page.waitForSelector('#tenants tr[data-tenant="t1"]');
  assert.ok(await page.isVisible('nav a[href="#/routes"]'));
  // The routes tables held their stats column and the tenant page its key buttons out of view (scrolled inside).
  for (const [hash, ready] of [['#/tenants', '#tenants'], ['#/routes', 'section[data-route="app"] td.stats .badge'], [`#/batches`, `#batches tr[data-batch="${batch.id}"] button`],
    ['#/cluster', '#silos'], ['#/tenants/t1', '#keys button']]) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.waitForSelector(ready);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${hash}: the page is ${overflow} px wider than the phone`);
    const inner = await page.$$eval('.scroll', (boxes) => boxes.map((b) => b.scrollWidth - b.clientWidth));
    assert.ok(inner.every((px) => px <= 0), `${hash}: tables wider than the phone by ${inner} px`);
    await shot(page, `phone-${hash.replace(/\W+/g, '-').replace(/^-|-$/g, '')}`);
  }
  await relay.client().batches.cancel(batch.id);
  await page.close();
});

test('a hand-edited link with a malformed escape shows the error, not a blank page', async () => {
  const page = await openConsole();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.waitForSelector('#tenants');
  await page.evaluate(() => { location.hash = '#/tenants/%E0%A4%A'; });
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /HTTP 404/);
  assert.match(await page.textContent('#view h1'), /Tenant %E0%A4%A/);
  assert.deepEqual(errors, []);
  await page.close();
});
