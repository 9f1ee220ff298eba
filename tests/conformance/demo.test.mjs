// The demo page in a real browser: headless Chromium (Debian's, driven by playwright-core) loads
// /demo/stream.html, runs a completion, and the SignalR panel must show exactly what the SSE panel shows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { KEYS, startRelay } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let relay;
let browser;
let profile;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  relay = await startRelay();
  profile = mkdtempSync(path.join(tmpdir(), 'relay-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // No background traffic: this machine's network reaches nothing but loopback.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  relay?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('the demo page shows the same text over SSE and over SignalR', async () => {
  const page = await browser.newPage();
  // The page runs under its Content-Security-Policy: anything the policy blocks (an inline script, a WebSocket
  // SignalR would then silently replace with another transport) is reported on the console.
  const violations = [];
  page.on('console', (message) => { if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text()); });
  const webSockets = [];
  page.on('websocket', (ws) => webSockets.push(ws.url()));
  const loaded = await page.goto(`${relay.origin}/demo/stream.html`);
  assert.match(loaded.headers()['content-security-policy'], /default-src 'none'/);
  assert.equal(loaded.headers()['x-frame-options'], 'DENY');
  assert.equal(loaded.headers()['x-content-type-options'], 'nosniff');
  await page.fill('#key', KEYS.t1);
  await page.fill('#prompt', 'Show me the relay [[sim tokens=25 interval=20]]');
  await page.click('#run');

  await page.waitForFunction(() => ['sse-status', 'signalr-status'].every((id) => document.getElementById(id).textContent !== ''), null, { timeout: 20_000 });
  assert.equal(await page.textContent('#sse-status'), 'done');
  assert.equal(await page.textContent('#signalr-status'), 'done');
  const sse = await page.textContent('#sse');
  assert.equal(sse.split(' ').length, 25, 'the SSE panel shows all 25 tokens');
  assert.equal(await page.textContent('#signalr'), sse);
  assert.match(await page.textContent('#stream-id'), /stream strm_[0-9a-f]{32}/);
  assert.deepEqual(violations, []);
  assert.ok(webSockets.some((url) => url.includes('/hubs/streams')), `SignalR used its WebSocket: ${webSockets}`);
});
