// Starts a small RelayCluster for one test file: a redis-server (AOF, fsync always), a MockUpstream and
// several silo processes sharing that Redis (Relay__Store=redis), all on free 127.0.0.1 ports. Unlike
// harness.mjs (one silo, in-memory store) the test can kill and restart the pieces: SIGKILL a silo, or
// SIGKILL Redis and start it again over the same directory and port.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { ADMIN_KEY, collectStream, connectHub, freePort, launchProcess, waitFor } from './harness.mjs';

export { ADMIN_KEY, collectStream, connectHub, freePort, waitFor };

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const buildConfig = process.env.RELAY_BUILD_CONFIG || 'Release';
const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';
const UPSTREAM_KEY = 'upstream-secret';
const START_TIMEOUT_MS = 30_000;

function dllPath(project) {
  // RELAY_ARTIFACTS points at a `dotnet build --artifacts-path DIR` output instead of the in-tree bin folders.
  const artifacts = process.env.RELAY_ARTIFACTS;
  if (artifacts) return path.join(artifacts, 'bin', project, buildConfig.toLowerCase(), `${project}.dll`);
  return path.join(repoRoot, 'src', project, 'bin', buildConfig, 'net10.0', `${project}.dll`);
}


function launchDll(label, project, args, env) {
  const dll = dllPath(project);
  if (!existsSync(dll)) {
    throw new Error(`${label}: ${dll} not found; run 'dotnet build -c ${buildConfig}' in ${repoRoot} first.`);
  }
  return launchProcess(label, 'dotnet', [dll, ...args], { env, cwd: path.dirname(dll) });
}

/** Polls `probe` until truthy; gives up early (with the child's output) if the child exits. */
async function waitReady(child, probe, what) {
  try {
    await waitFor(async () => {
      if (child.exitInfo) {
        throw Object.assign(new Error(`${child.label} exited (${JSON.stringify(child.exitInfo)}) before it was ready`), { fatal: true, exitedEarly: true });
      }
      return probe();
    }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 50, what });
  } catch (err) {
    throw Object.assign(new Error(`${err.message}\n--- ${child.label} output ---\n${child.output()}`), { exitedEarly: err.exitedEarly });
  }
}

/** SIGKILL and wait until the process is gone. */
export async function kill9(child) {
  if (child.exitInfo) return;
  child.kill('SIGKILL');
  await child.exited;
}

async function stopChild(child) {
  if (!child || child.exitInfo) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await child.exited;
  clearTimeout(timer);
}

/** Sends PING over a raw socket; true on +PONG, false on anything else (refused, LOADING, timeout). */
export function redisPing(port, timeoutMs = 1_000) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * Parses one RESP2 reply from `buf` at `pos`: [value, next position], or null while it is incomplete. Bulk strings
 * come back as strings, errors as Error values, nil as null.
 */
function parseReply(buf, pos) {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, eol);
  let next = eol + 2;
  switch (type) {
    case '+': return [line, next];
    case '-': return [new Error(line), next];
    case ':': return [Number(line), next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buf.length < next + length + 2) return null;
      return [buf.toString('utf8', next, next + length), next + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items = [];
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (!item) return null;
        [items[i], next] = item;
      }
      return [items, next];
    }
    default: throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** Sends one command to the redis-server on `port` and resolves with its parsed reply (rejects on an error reply). */
export function redisCommand(port, args, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const finish = (err, value) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`redis ${args[0]}: no reply in ${timeoutMs} ms`)));
    socket.on('error', (err) => finish(err));
    socket.on('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
    });
    socket.on('data', (data) => {
      buf = Buffer.concat([buf, data]);
      const reply = parseReply(buf, 0);
      if (!reply) return;
      if (reply[0] instanceof Error) finish(reply[0]);
      else finish(null, reply[0]);
    });
  });
}

/**
 * A tenant's usage records from its ledger stream ({t:<id>}:ledger: one entry per commit, each field `r` one record as
 * JSON, in order; entries written before issue 16 hold one), oldest first;
 * null when Redis has no such key (a store that keeps its ledger elsewhere).
 */
export async function ledgerRecords(port, tenant) {
  const key = `{t:${tenant}}:ledger`;
  const type = await redisCommand(port, ['TYPE', key]);
  if (type === 'none') return null;
  if (type !== 'stream') throw new Error(`${key} is a ${type}, not a stream`);
  const entries = await redisCommand(port, ['XRANGE', key, '-', '+']);
  return entries.flatMap(([, fields]) => {
    const records = [];
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] !== 'r') throw new Error(`a ledger entry with a field other than r: ${JSON.stringify(fields)}`);
      records.push(JSON.parse(fields[i + 1]));
    }
    if (records.length === 0) throw new Error(`a ledger entry without records: ${JSON.stringify(fields)}`);
    return records;
  });
}

/** A redis-server on `port` with AOF (fsync always) in `dir`; start() again after kill9 reopens the same data. */
function redisServer(port, dir) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes',
    '--appendfsync', 'always', '--save', '', '--protected-mode', 'no'];
  const redis = {
    port,
    dir,
    process: null,
    async start() {
      const child = launchProcess(`redis:${port}`, REDIS_SERVER, args);
      redis.process = child;
      await waitReady(child, () => redisPing(port), `redis-server on ${port} to answer PING`);
    },
    kill: () => kill9(redis.process),
    stop: () => stopChild(redis.process),
  };
  return redis;
}

/** Environment shared by every silo: the Redis store, the MockUpstream provider, models and `tenants`. */
function siloEnv({ redisPort, mockPort, dataDir, usageDir, tenants, env }) {
  const result = {
    ASPNETCORE_ENVIRONMENT: 'Production',
    Relay__Store: 'redis',
    Relay__Redis: `127.0.0.1:${redisPort}`,
    Relay__AdminKey: ADMIN_KEY,
    Relay__UsageLog__Path: usageDir,
    // The shared volume of a real cluster: every silo sees the same files and batch parts.
    Relay__Files__Path: path.join(dataDir, 'files'),
    Relay__Batches__WorkPath: path.join(dataDir, 'batches'),
    Relay__Providers__mock__Type: 'openai',
    Relay__Providers__mock__BaseUrl: `http://127.0.0.1:${mockPort}/v1`,
    Relay__Providers__mock__ApiKey: UPSTREAM_KEY,
    'Relay__Models__remote-fast__Provider': 'mock',
    'Relay__Models__remote-fast__UpstreamModel': 'mock-fast',
    'Relay__Models__remote-fast__InputPerMTok': '0.27',
    'Relay__Models__remote-fast__OutputPerMTok': '1.10',
  };
  for (const [id, tenant] of Object.entries(tenants)) {
    result[`Relay__Tenants__${id}__Keys__0`] = tenant.key;
    for (const setting of ['RequestsPerMinute', 'TokensPerMinute', 'MaxConcurrent', 'MonthlyBudgetUsd']) {
      if (tenant[setting] !== undefined) result[`Relay__Tenants__${id}__${setting}`] = String(tenant[setting]);
    }
  }
  return { ...result, ...env };
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
function canBind(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free port for a silo's Orleans endpoint, drawn from 20000–32767 as the relay draws its own: below the range
 * the OS hands out for outgoing connections, so no client socket takes it before the silo binds it.
 */
async function freeSiloPort() {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (await canBind(port)) return port;
  }
  return freePort();
}

/**
 * One silo process: its URLs, helpers, and kill/stop. Ready means /readyz is 200 (Redis reached). Every silo gets
 * an explicit Orleans silo port (`Relay__SiloPort`), so a grain's host, named as 127.0.0.1:<port>, maps back to
 * its process. `extraEnv` adds to (or overrides) the cluster's environment for this silo only.
 */
async function startSilo(label, envFor, extraEnv = {}) {
  for (let attempt = 1; ; attempt++) {
    const [port, siloPort] = await Promise.all([freePort(), freeSiloPort()]);
    const env = { ...envFor(), Relay__SiloPort: String(siloPort), ...extraEnv };
    const child = launchDll(label, 'RelayCluster.Silo', ['--urls', `http://127.0.0.1:${port}`], env);
    const origin = `http://127.0.0.1:${port}`;
    try {
      await waitReady(child, async () => (await fetch(`${origin}/readyz`).catch(() => null))?.status === 200, `${label} /readyz`);
      const silo = Object.assign(makeSilo(label, child, origin), { siloPort, siloAddress: `127.0.0.1:${siloPort}`, extraEnv });
      // The silo must be where it was told to be, or a grain's host could not be mapped back to this process.
      const self = (await silo.admin('/admin/cluster')).body?.silos?.find((s) => s.this_silo);
      if (self?.endpoint !== silo.siloAddress) {
        throw new Error(`${label} runs its silo on ${JSON.stringify(self)}, not on ${silo.siloAddress}`);
      }
      return silo;
    } catch (err) {
      await stopChild(child);
      // A port taken between freePort() and the bind: one more try on a fresh port.
      if (!err.exitedEarly || attempt > 1) throw err;
      process.stderr.write(`# ${label} start failed, retrying once: ${err.message.split('\n')[0]}\n`);
    }
  }
}

function makeSilo(label, child, origin) {
  return {
    label,
    process: child,
    origin,
    baseURL: `${origin}/v1`,
    kill: () => kill9(child),
    stop: () => stopChild(child),
    /** False once the process exited (killed or stopped). */
    get alive() {
      return !child.exitInfo;
    },
    /** An SDK client; retries off so every error reaches the test as the relay sent it. */
    client(apiKey, options = {}) {
      return new OpenAI({ apiKey, baseURL: `${origin}/v1`, maxRetries: 0, timeout: 20_000, ...options });
    },
    /** POST /v1/chat/completions; returns { status, headers, body } (body parsed when JSON). */
    chat(apiKey, body) {
      return this.request('POST', '/v1/chat/completions', { key: apiKey, body });
    },
    /**
     * Any request with a JSON body (or none): `key` is the bearer key (the admin key unless given; null
     * sends no Authorization header), `body` an object to send as JSON or a string to send as it is.
     * Returns { status, headers, body } (body parsed when JSON).
     */
    async request(method, pathname, { key = ADMIN_KEY, body } = {}) {
      const headers = {};
      if (key !== null) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(origin + pathname, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text for the assertion message
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    /** GET an admin path with the admin key; returns { status, body }. */
    async admin(pathname) {
      const { status, body } = await this.request('GET', pathname);
      return { status, body };
    },
    async quota(tenant) {
      const { status, body } = await this.admin(`/admin/tenants/${tenant}/quota`);
      if (status !== 200) throw new Error(`${label} quota of ${tenant}: HTTP ${status} ${JSON.stringify(body)}`);
      return body;
    },
    async usage(tenant) {
      const { status, body } = await this.admin(`/admin/tenants/${tenant}/usage`);
      if (status !== 200) throw new Error(`${label} usage of ${tenant}: HTTP ${status} ${JSON.stringify(body)}`);
      return body;
    },
    async readyStatus() {
      const res = await fetch(`${origin}/readyz`).catch(() => null);
      await res?.body?.cancel();
      return res?.status ?? 0;
    },
  };
}

/**
 * Starts Redis, MockUpstream and `silos` silos, all configured with `tenants`
 * ({ id: { key, RequestsPerMinute?, MonthlyBudgetUsd?, ... } }) plus `env` overrides.
 * Returns { redis, mock, mockOrigin, silos, stop, restartSilo, ... }.
 */
export async function startCluster({ silos: siloCount = 3, tenants = {}, env = {} } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'relay-cluster-'));
  const redisDir = path.join(dataDir, 'redis');
  const usageDir = path.join(dataDir, 'usage');
  mkdirSync(redisDir);
  mkdirSync(usageDir);

  const cluster = { redis: null, mock: null, silos: [] };
  let envFor = null;
  cluster.stop = async () => {
    await Promise.all([...cluster.silos.map((s) => s.stop()), stopChild(cluster.mock)]);
    await cluster.redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const [redisPort, mockPort] = await Promise.all([freePort(), freePort()]);
    cluster.redis = redisServer(redisPort, redisDir);
    const mock = launchDll('mock-upstream', 'RelayCluster.MockUpstream', ['--port', String(mockPort), '--api-key', UPSTREAM_KEY], {});
    cluster.mock = mock;
    await Promise.all([
      cluster.redis.start(),
      waitReady(mock, async () => (await fetch(`http://127.0.0.1:${mockPort}/v1/models`, {
        headers: { authorization: `Bearer ${UPSTREAM_KEY}` },
      }).catch(() => null))?.ok, 'mock-upstream /v1/models'),
    ]);
    cluster.mockOrigin = `http://127.0.0.1:${mockPort}`; // its /mock/stats counts the model calls that reached it
    envFor = () => siloEnv({ redisPort, mockPort, dataDir, usageDir, tenants, env });
    // One at a time: three .NET start-ups at once on two cores only slow each other down.
    for (let i = 1; i <= siloCount; i++) {
      cluster.silos.push(await startSilo(`silo${i}`, envFor));
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  /**
   * SIGKILLs silo `index` (0-based; if it still runs) and starts a new process with the same environment
   * (on a fresh port), ready when /readyz is 200. The new silo replaces the old one in `cluster.silos`.
   */
  cluster.restartSilo = async (index) => {
    const old = cluster.silos[index];
    await old.kill();
    const silo = await startSilo(old.label, envFor, old.extraEnv);
    cluster.silos[index] = silo;
    return silo;
  };
  /**
   * Starts one more silo on the same Redis and MockUpstream, with `env` added to the shared environment (for
   * example another `Relay__Orleans__ClusterId`, a second cluster on the same Redis), and appends it to `cluster.silos`.
   */
  cluster.addSilo = async ({ label = `silo${cluster.silos.length + 1}`, env: extraEnv = {} } = {}) => {
    const silo = await startSilo(label, envFor, extraEnv);
    cluster.silos.push(silo);
    return silo;
  };
  /**
   * The silo process hosting the grain that the admin endpoint `pathname` names, asked through `via`; null on 404 (a
   * build without that endpoint). The answer's silo is `127.0.0.1:<siloPort>` (`silo` or `endpoint`; an `address`
   * `ip:port@generation` is read as its endpoint).
   */
  const grainHost = async (pathname, via) => {
    const { status, body } = await via.admin(pathname);
    if (status === 404) return null;
    const named = [body?.endpoint, body?.silo, body?.address].find((v) => typeof v === 'string');
    if (status !== 200 || !named) throw new Error(`GET ${pathname} on ${via.label}: HTTP ${status} ${JSON.stringify(body)}`);
    const endpoint = named.split('@')[0];
    const silo = cluster.silos.find((s) => s.siloAddress === endpoint);
    if (!silo) throw new Error(`GET ${pathname}: the grain is on ${endpoint}, none of ${cluster.silos.map((s) => s.siloAddress)}`);
    return silo;
  };
  /** The silo process hosting `tenant`'s grain (GET /admin/tenants/{id}/grain); null when the relay has no such endpoint. */
  cluster.tenantGrainHost = (tenant, via = cluster.silos.find((s) => s.alive)) => grainHost(`/admin/tenants/${tenant}/grain`, via);
  /** The silo process hosting a batch's grain (GET /admin/tenants/{id}/batches/{batchId}/grain); null on 404. */
  cluster.batchGrainHost = (tenant, batchId, via = cluster.silos.find((s) => s.alive)) =>
    grainHost(`/admin/tenants/${tenant}/batches/${batchId}/grain`, via);
  /** The tenant's ledger as Redis keeps it (the stream {t:<id>}:ledger, its usage records in order), oldest first. */
  cluster.ledger = (tenant) => ledgerRecords(cluster.redis.port, tenant);
  return cluster;
}
