// Starts the real relay for one test file: a MockUpstream process (the upstream of the `openai`
// provider) and a silo process configured through environment variables, both on free 127.0.0.1
// ports. Each test file gets its own pair, so the admin usage it reads covers only its own calls.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import * as signalR from '@microsoft/signalr';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const buildConfig = process.env.RELAY_BUILD_CONFIG || 'Release';

function dllPath(project) {
  // RELAY_ARTIFACTS points at a `dotnet build --artifacts-path DIR` output instead of the in-tree bin folders.
  const artifacts = process.env.RELAY_ARTIFACTS;
  if (artifacts) return path.join(artifacts, 'bin', project, buildConfig.toLowerCase(), `${project}.dll`);
  return path.join(repoRoot, 'src', project, 'bin', buildConfig, 'net10.0', `${project}.dll`);
}

export const ADMIN_KEY = 'admin-test-4c8e1a9f3b7d5e2c'; // strong enough for the Redis store
const UPSTREAM_KEY = 'upstream-secret';

/** One key per tenant; each tenant exists to exercise one kind of limit. */
export const KEYS = {
  t1: 'sk-t1-conformance-key', // generous RPM and TPM: the normal caller
  t2: 'sk-t2-conformance-key', // may only use mock-embed
  t3: 'sk-t3-conformance-key', // 2 requests a minute, for 429s
  t4: 'sk-t4-conformance-key', // a budget too small for any request
  bad: 'sk-not-a-configured-key',
};

const TIMEOUT_MS = 30_000;

// Processes still running, killed when this test file's process exits for any reason.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(130));
}

/** A port that was free a moment ago (the OS picks it; we close our socket and hand it on). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a truthy value or the deadline passes; the deadline, not a sleep, bounds the wait. */
export async function waitFor(probe, { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (err) {
      if (err.fatal) throw err; // no point waiting any longer
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last result: ${describe(last)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function describe(value) {
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** This process's environment minus relay and ASP.NET settings, so only the harness configures the relay. */
function inheritedEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(Relay__|ASPNETCORE_|DOTNET_URLS)/i.test(k)));
}

/** Spawns `dotnet <dll> ...args` in the dll's folder (so a silo finds its appsettings.json). */
function launch(name, dll, args, env) {
  if (!existsSync(dll)) {
    throw new Error(`${name}: ${dll} not found; run 'dotnet build -c ${buildConfig}' in ${repoRoot} first.`);
  }
  return launchProcess(name, 'dotnet', [dll, ...args], { env, cwd: path.dirname(dll) });
}

/**
 * Spawns any process with this harness's environment rules, keeping the tail of its output for error
 * messages, and registers it to be killed when the test process exits.
 */
export function launchProcess(name, command, args, { env = {}, cwd } = {}) {
  const child = spawn(command, args, {
    cwd,
    env: { ...inheritedEnv(), DOTNET_NOLOGO: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = [];
  const keep = (data) => {
    tail.push(data.toString());
    if (tail.length > 200) tail.shift();
    if (process.env.RELAY_CONFORMANCE_VERBOSE) process.stderr.write(`[${name}] ${data}`);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (err) => keep(`spawn error: ${err.message}\n`));
  running.add(child);
  child.exitInfo = null;
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      child.exitInfo = { code, signal };
      resolve();
    });
  });
  child.output = () => tail.join('');
  child.label = name;
  return child;
}

async function waitHealthy(child, url, headers = {}) {
  await waitFor(
    async () => {
      if (child.exitInfo) {
        throw Object.assign(new Error(`${child.label} exited (${describe(child.exitInfo)}) before it was ready`), { fatal: true, exitedEarly: true });
      }
      const res = await fetch(url, { headers }).catch(() => null);
      return res?.ok;
    },
    { timeoutMs: TIMEOUT_MS, intervalMs: 50, what: `${child.label} at ${url}` },
  ).catch((err) => {
    throw Object.assign(new Error(`${err.message}\n--- ${child.label} output ---\n${child.output()}`), { exitedEarly: err.exitedEarly });
  });
}

async function stopChild(child) {
  if (child.exitInfo) return;
  child.kill('SIGTERM');
  const killed = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await child.exited;
  clearTimeout(killed);
}

/**
 * Starts MockUpstream and a silo wired to it. `env` adds or overrides silo settings; it may also be a
 * function of `{ mockPort, siloPort, upstreamKey }` returning them, for providers that point at MockUpstream.
 * Returns ports, URLs, helpers and `stop()`.
 * A process that exits while starting (a port taken between freePort() and its bind, or a signal
 * from outside) gets one more try on fresh ports; a second failure is reported with its output.
 */
export async function startRelay(options = {}) {
  try {
    return await startRelayOnce(options);
  } catch (err) {
    if (!err.exitedEarly) throw err;
    process.stderr.write(`# relay start failed, retrying once: ${err.message.split('\n')[0]}\n`);
    return startRelayOnce(options);
  }
}

async function startRelayOnce({ env = {} } = {}) {
  const [mockPort, siloPort] = await Promise.all([freePort(), freePort()]);
  const usageDir = mkdtempSync(path.join(tmpdir(), 'relay-conformance-'));
  const children = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    rmSync(usageDir, { recursive: true, force: true });
  };

  try {
    const mock = launch('mock-upstream', dllPath('RelayCluster.MockUpstream'),
      ['--port', String(mockPort), '--api-key', UPSTREAM_KEY], {});
    children.push(mock);

    const siloEnv = {
      ASPNETCORE_ENVIRONMENT: 'Production',
      Relay__AdminKey: ADMIN_KEY,
      Relay__UsageLog__Path: usageDir,
      Relay__Files__Path: path.join(usageDir, 'files'),
      Relay__Batches__WorkPath: path.join(usageDir, 'batches'),
      Relay__Requests__HeartbeatSeconds: '0.2',
      Relay__Providers__sim__Type: 'simulator',
      Relay__Providers__mock__Type: 'openai',
      Relay__Providers__mock__BaseUrl: `http://127.0.0.1:${mockPort}/v1`,
      Relay__Providers__mock__ApiKey: UPSTREAM_KEY,
      // Model and alias names contain dashes, hence the quoted keys.
      'Relay__Models__mock-fast__Provider': 'sim',
      'Relay__Models__mock-fast__InputPerMTok': '0.27',
      'Relay__Models__mock-fast__OutputPerMTok': '1.10',
      'Relay__Models__mock-fast__MaxOutputTokens': '100000', // the fan-out flood asks for 60,000 tokens
      'Relay__Models__mock-embed__Provider': 'sim',
      'Relay__Models__mock-embed__InputPerMTok': '0.02',
      'Relay__Models__remote-fast__Provider': 'mock',
      'Relay__Models__remote-fast__UpstreamModel': 'mock-fast',
      'Relay__Models__remote-fast__InputPerMTok': '0.27',
      'Relay__Models__remote-fast__OutputPerMTok': '1.10',
      'Relay__Aliases__gpt-4o-mini': 'mock-fast',
      Relay__Tenants__t1__Keys__0: KEYS.t1,
      Relay__Tenants__t1__RequestsPerMinute: '100000',
      Relay__Tenants__t1__TokensPerMinute: '100000000',
      Relay__Tenants__t2__Keys__0: KEYS.t2,
      Relay__Tenants__t2__Models__0: 'mock-embed',
      Relay__Tenants__t3__Keys__0: KEYS.t3,
      Relay__Tenants__t3__RequestsPerMinute: '2',
      Relay__Tenants__t4__Keys__0: KEYS.t4,
      Relay__Tenants__t4__MonthlyBudgetUsd: '0.000001',
      ...(typeof env === 'function' ? env({ mockPort, siloPort, upstreamKey: UPSTREAM_KEY }) : env),
    };
    const silo = launch('silo', dllPath('RelayCluster.Silo'), ['--urls', `http://127.0.0.1:${siloPort}`], siloEnv);
    children.push(silo);

    await Promise.all([
      waitHealthy(mock, `http://127.0.0.1:${mockPort}/v1/models`, { authorization: `Bearer ${UPSTREAM_KEY}` }),
      waitHealthy(silo, `http://127.0.0.1:${siloPort}/healthz`),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }

  const origin = `http://127.0.0.1:${siloPort}`;
  const baseURL = `${origin}/v1`;
  return {
    origin,
    baseURL,
    mockPort,
    siloPort,
    keys: KEYS,
    adminKey: ADMIN_KEY,
    stop,
    /** An SDK client; retries off so every error reaches the test as the relay sent it. */
    client(apiKey = KEYS.t1, options = {}) {
      return new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 20_000, ...options });
    },
    /** GET an admin path; returns { status, headers, body } with body parsed as JSON. */
    async admin(pathname, key = ADMIN_KEY) {
      const res = await fetch(origin + pathname, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      return { status: res.status, headers: res.headers, body: await res.json() };
    },
    /**
     * Polls a tenant's usage until it counts at least `requests` requests. The relay records usage just
     * after it settles the quota, so a response can reach the client before its usage is recorded.
     */
    async usageWithRequests(requests, tenant = 't1') {
      return waitFor(async () => {
        const { body } = await this.admin(`/admin/tenants/${tenant}/usage`);
        return body.requests >= requests ? body : false;
      }, { what: `${tenant} usage to count ${requests} requests` });
    },
    /** Polls a tenant's quota until nothing is in flight or reserved, and returns that quota. */
    async settledQuota(tenant = 't1') {
      return waitFor(async () => {
        const { body } = await this.admin(`/admin/tenants/${tenant}/quota`);
        return body.in_flight === 0 && body.reserved_nanos === 0 ? body : false;
      }, { what: `${tenant} quota to settle (in_flight 0, reserved_nanos 0)` });
    },
  };
}

/** Collects an SDK stream: its chunks and the concatenated delta content. */
export async function collect(stream) {
  const chunks = [];
  let content = '';
  for await (const chunk of stream) {
    chunks.push(chunk);
    for (const choice of chunk.choices) content += choice.delta?.content ?? '';
  }
  return { chunks, content };
}

/** Prompt tokens as the simulator counts them (its documented rule): words + 3 a message + 3. */
export function simulatorPromptTokens(messages) {
  const words = messages.reduce((n, m) => n + m.content.split(/\s+/).filter(Boolean).length, 0);
  return words + 3 * messages.length + 3;
}

export const REQUEST_ID = /^req_[0-9a-f]{32}$/;

/**
 * Awaits `promiseOrFn`, asserts it rejects with an instance of `ErrorClass` whose status/type/code/param
 * match `expected` (keys left out are not checked), and returns the error for further checks.
 */
export async function expectError(promiseOrFn, ErrorClass, expected = {}) {
  let error;
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (err) {
    error = err;
  }
  if (!error) throw new Error(`expected ${ErrorClass.name}, but the call succeeded`);
  if (!(error instanceof ErrorClass)) {
    throw new Error(`expected ${ErrorClass.name}, got ${error.constructor.name}: ${error.message}`, { cause: error });
  }
  for (const [key, value] of Object.entries(expected)) {
    if (error[key] !== value) {
      throw new Error(`${ErrorClass.name}.${key}: expected ${describe(value)}, got ${describe(error[key])} (${error.message})`);
    }
  }
  return error;
}

/** A started @microsoft/signalr connection to `url` (a hub) with `token` as its access token. */
export async function connectHub(url, token) {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(url, { accessTokenFactory: () => token })
    .configureLogging(signalR.LogLevel.None)
    .build();
  await connection.start();
  return connection;
}

/** Every item of one streaming hub call, until the server completes it (rejects on its error). */
export function collectStream(connection, method, ...args) {
  return new Promise((resolve, reject) => {
    const items = [];
    connection.stream(method, ...args).subscribe({ next: (item) => items.push(item), complete: () => resolve(items), error: reject });
  });
}
