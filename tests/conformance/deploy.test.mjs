// Static checks of the deployment files: Dockerfile, docker-compose.yml, deploy/nginx.conf,
// deploy/redis.conf and deploy/k8s/*.yaml. Nothing here needs Docker, a cluster or the network; the
// point is to catch the mistakes that only show up at deploy time (a probe on the wrong path, a
// Service selecting no pod, a ConfigMap name typo, a buffering proxy in front of SSE, silos whose
// configuration drifted apart, Redis that may evict budgets).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (rel) => readFileSync(path.join(root, rel), 'utf8');
const YAML_OPTIONS = { merge: true, uniqueKeys: true }; // compose uses `<<: *silo`; duplicate keys are bugs

// ---------------------------------------------------------------------------------------------
// Parsers and unit helpers
// ---------------------------------------------------------------------------------------------

/** Every document of a YAML file (empty documents dropped); any syntax error fails the test. */
function loadAll(rel) {
  const docs = parseAllDocuments(read(rel), YAML_OPTIONS);
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) assert.deepEqual(doc.errors.map(String), [], `${rel}: YAML errors`);
  return list.map((doc) => doc.toJS()).filter((doc) => doc != null);
}

/** redis.conf → Map(directive → list of argument strings), one entry per occurrence (e.g. `save`). */
function parseRedisConf(text) {
  const conf = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [name, ...args] = line.split(/\s+/);
    const key = name.toLowerCase();
    conf.set(key, [...(conf.get(key) ?? []), args.join(' ')]);
  }
  return conf;
}

/** nginx.conf → tree of { name, args, children }; throws on unbalanced braces or a missing `;`. */
function parseNginx(text) {
  const tokens = [];
  const re = /#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[{};]|[^\s{};"'#]+/g;
  for (const m of text.matchAll(re)) {
    if (m[0].startsWith('#')) continue;
    tokens.push(/^["']/.test(m[0]) ? { word: m[0].slice(1, -1) } : m[0] === '{' || m[0] === '}' || m[0] === ';' ? { punct: m[0] } : { word: m[0] });
  }
  let i = 0;
  function block(depth) {
    const out = [];
    let words = [];
    while (i < tokens.length) {
      const t = tokens[i++];
      if (t.word !== undefined) words.push(t.word);
      else if (t.punct === ';') {
        if (!words.length) throw new Error('empty directive');
        out.push({ name: words[0], args: words.slice(1), children: null });
        words = [];
      } else if (t.punct === '{') {
        if (!words.length) throw new Error('block without a name');
        const [name, ...args] = words;
        words = [];
        out.push({ name, args, children: block(depth + 1) });
      } else {
        if (depth === 0) throw new Error('unbalanced "}"');
        if (words.length) throw new Error(`directive "${words[0]}" not terminated by ";"`);
        return out;
      }
    }
    if (depth !== 0) throw new Error('unbalanced "{": end of file inside a block');
    if (words.length) throw new Error(`directive "${words[0]}" not terminated by ";"`);
    return out;
  }
  return { name: 'main', args: [], children: block(0) };
}

const own = (node, name) => (node.children ?? []).filter((c) => c.name === name);

/** The value nginx uses for a simple directive in `chain` (outermost first): the innermost definition. */
function effective(chain, name) {
  for (const node of [...chain].reverse()) {
    const found = own(node, name);
    if (found.length) return found.at(-1).args;
  }
  return undefined;
}

/** proxy_set_header is all-or-nothing: a level that sets any header hides every outer one. */
function effectiveHeaders(chain) {
  for (const node of [...chain].reverse()) {
    const found = own(node, 'proxy_set_header');
    if (found.length) return new Map(found.map((d) => [d.args[0].toLowerCase(), d.args.slice(1).join(' ')]));
  }
  return new Map();
}

const SIZE_UNITS = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
function bytes(value) {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(value).trim());
  assert.ok(m && m[2].toLowerCase() in SIZE_UNITS, `not a size: ${value}`);
  return Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
}

const TIME_UNITS = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };
function seconds(value) {
  let total = 0;
  const text = String(value).trim();
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)([a-z]*)/gi)];
  assert.ok(parts.length && parts.map((p) => p[0]).join('') === text.replace(/\s+/g, ''), `not a duration: ${value}`);
  for (const [, n, unit] of parts) {
    assert.ok(unit.toLowerCase() in TIME_UNITS, `unknown time unit in ${value}`);
    total += Number(n) * TIME_UNITS[unit.toLowerCase()];
  }
  return total;
}

/** Dockerfile → stages [{ name, from, instructions: [{ op, args }] }], continuations joined. */
function parseDockerfile(text) {
  const instructions = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue; // comments, also inside continued instructions
    if (!pending && !raw.trim()) continue;
    if (/\\\s*$/.test(raw)) {
      pending += raw.replace(/\\\s*$/, ' ');
      continue;
    }
    const line = (pending + raw).trim();
    pending = '';
    if (!line) continue;
    const [, op, args] = /^(\S+)\s*(.*)$/s.exec(line);
    instructions.push({ op: op.toUpperCase(), args: args.trim() });
  }
  const globalArgs = {};
  const stages = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const [image, as, name] = ins.args.replace(/--platform=\S+\s+/, '').split(/\s+/);
      const from = image.replace(/\$\{?(\w+)\}?/g, (_, v) => globalArgs[v] ?? '');
      stages.push({ name: as?.toUpperCase() === 'AS' ? name : String(stages.length), from, instructions: [] });
    } else if (!stages.length && ins.op === 'ARG') {
      const [k, v = ''] = ins.args.split('=');
      globalArgs[k.trim()] = v.trim();
    } else if (stages.length) {
      stages.at(-1).instructions.push(ins);
    }
  }
  return stages;
}

/** The external image a stage is ultimately built on, following `FROM <earlier stage>`. */
function baseImage(stages, stage) {
  const parent = stages.find((s) => s.name === stage.from);
  return parent && parent !== stage ? baseImage(stages, parent) : stage.from;
}

/** The whole chain of instructions a stage inherits (EXPOSE, USER, ENV carry over from parents). */
function inherited(stages, stage) {
  const parent = stages.find((s) => s.name === stage.from);
  return [...(parent && parent !== stage ? inherited(stages, parent) : []), ...stage.instructions];
}

/** Relay__Models__X__Provider → X, etc.: the checks the silo's option validator makes at start-up. */
function assertRelayConfigConsistent(env, where) {
  const providers = new Set(Object.keys(env).flatMap((k) => /^Relay__Providers__(.+?)__Type$/.exec(k)?.[1] ?? []));
  const models = new Set();
  for (const [key, value] of Object.entries(env)) {
    const m = /^Relay__Models__(.+)__Provider$/.exec(key);
    if (!m) continue;
    models.add(m[1]);
    assert.ok(providers.has(String(value)), `${where}: model ${m[1]} uses provider "${value}", which has no Type`);
  }
  assert.ok(models.size > 0, `${where}: no models configured`);
  for (const [key, value] of Object.entries(env)) {
    const alias = /^Relay__Aliases__(.+)$/.exec(key);
    if (alias) assert.ok(models.has(String(value)), `${where}: alias ${alias[1]} → unknown model ${value}`);
    const tenantModel = /^Relay__Tenants__[^_]+__Models__\d+$/.test(key);
    if (tenantModel && !String(value).includes('*')) assert.ok(models.has(String(value)), `${where}: ${key} names unknown model ${value}`);
  }
  for (const p of providers) {
    if (env[`Relay__Providers__${p}__Type`] === 'openai') {
      assert.doesNotThrow(() => new URL(env[`Relay__Providers__${p}__BaseUrl`]), `${where}: provider ${p} needs an absolute BaseUrl`);
    }
  }
}

/**
 * Why a secret is too weak for a deployed silo, or null: the rules of the silo's AdminKeyPolicy, which it applies to the
 * admin key, every configured tenant key and the stream token secret on the Redis store.
 */
function secretWeakness(secret) {
  const placeholder = ['change-me', 'changeme', 'change_me', 'replace-me', 'replaceme', 'replace_me', 'example', 'password', 'secret']
    .find((p) => secret.toLowerCase().includes(p));
  if (placeholder) return `placeholder ${placeholder}`;
  if (secret.length < 24) return 'shorter than 24 characters';
  return new Set(secret).size < 10 ? 'fewer than 10 distinct characters' : null;
}

/** The settings that carry a secret a client could use: the admin key, tenant keys, the stream token secret. */
const USABLE_SECRET = /^Relay__(AdminKey|Tenants__.+__Keys__\d+|Streams__(Previous)?TokenSecret)$/;

/** First endpoint of a StackExchange.Redis connection string. */
function redisEndpoint(connectionString) {
  const first = String(connectionString).split(',')[0].trim();
  const [host, port = '6379'] = first.split(':');
  return { host, port: Number(port) };
}

// ---------------------------------------------------------------------------------------------
// Shared fixtures
// ---------------------------------------------------------------------------------------------

const dockerStages = parseDockerfile(read('Dockerfile'));
const finalStage = dockerStages.at(-1);
const exposed = (stage) => inherited(dockerStages, stage).filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.split('/')[0]));
const SILO_PORT = exposed(finalStage)[0];

const compose = parse(read('docker-compose.yml'), YAML_OPTIONS);
const services = compose.services ?? {};
const siloNames = Object.keys(services).filter((name) => /^silo\d+$/.test(name)).sort();

// A syntax error is reported by the nginx tests below rather than aborting the whole file.
let nginxError;
const nginx = (() => {
  try {
    return parseNginx(read('deploy/nginx.conf'));
  } catch (error) {
    nginxError = error;
    return { name: 'main', args: [], children: [] };
  }
})();
const redisConf = parseRedisConf(read('deploy/redis.conf'));

const k8sDir = path.join('deploy', 'k8s');
const k8sFiles = readdirSync(path.join(root, k8sDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
const k8sDocs = k8sFiles.flatMap((file) => loadAll(path.join(k8sDir, file)).map((doc) => ({ file, doc })));
const resources = k8sDocs.filter(({ doc }) => doc.kind !== 'Kustomization').map(({ doc }) => doc);
const ofKind = (kind) => resources.filter((r) => r.kind === kind);
const one = (kind) => {
  const list = ofKind(kind);
  assert.equal(list.length, 1, `expected exactly one ${kind}`);
  return list[0];
};
const byName = (kind, name) => resources.find((r) => r.kind === kind && r.metadata?.name === name);
const matches = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

// ---------------------------------------------------------------------------------------------

describe('Dockerfile', () => {
  test('the final (default) stage runs the silo on the ASP.NET Core 10 runtime', () => {
    assert.equal(baseImage(dockerStages, finalStage), 'mcr.microsoft.com/dotnet/aspnet:10.0');
    const entry = inherited(dockerStages, finalStage).filter((i) => i.op === 'ENTRYPOINT').at(-1);
    assert.ok(entry, 'no ENTRYPOINT');
    const argv = JSON.parse(entry.args); // exec form: signals reach dotnet directly
    assert.deepEqual(argv.slice(0, 2), ['dotnet', 'RelayCluster.Silo.dll']);
    assert.equal(SILO_PORT, 8080);
  });

  test('the silo runs as a non-root user, binds all interfaces and has a /healthz HEALTHCHECK', () => {
    const chain = inherited(dockerStages, finalStage);
    const user = chain.filter((i) => i.op === 'USER').at(-1)?.args;
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER is ${user}`);
    // appsettings.json binds 127.0.0.1 and outranks ASPNETCORE_URLS; only an unprefixed Urls beats it.
    const env = chain.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    assert.match(env, new RegExp(`(^|\\s)Urls=http://(0\\.0\\.0\\.0|\\+|\\*|\\[::\\]):${SILO_PORT}(\\s|$)`));
    const health = chain.filter((i) => i.op === 'HEALTHCHECK').at(-1)?.args ?? '';
    assert.match(health, new RegExp(`127\\.0\\.0\\.1:${SILO_PORT}/healthz`));
  });

  test('the build restores before copying sources and publishes from the .NET 10 SDK', () => {
    const build = dockerStages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /dotnet publish/.test(i.args)));
    assert.ok(build, 'no stage runs dotnet publish');
    assert.equal(baseImage(dockerStages, build), 'mcr.microsoft.com/dotnet/sdk:10.0');
    const restoreAt = build.instructions.findIndex((i) => i.op === 'RUN' && /dotnet restore/.test(i.args));
    const sourcesAt = build.instructions.findIndex((i) => i.op === 'COPY' && !/--from=/.test(i.args) && /(^|\s)(src\/?|\.)\s/.test(i.args + ' '));
    assert.ok(restoreAt >= 0 && sourcesAt > restoreAt, 'dotnet restore must run before the sources are copied (layer caching)');
    assert.match(build.instructions.find((i) => /dotnet publish/.test(i.args)).args, /--no-restore/);
  });

  test('a mockupstream target exists and listens on all interfaces', () => {
    const stage = dockerStages.find((s) => s.name === 'mockupstream');
    assert.ok(stage, 'no mockupstream stage');
    const argv = JSON.parse(inherited(dockerStages, stage).filter((i) => i.op === 'ENTRYPOINT').at(-1).args);
    assert.ok(argv.includes('RelayCluster.MockUpstream.dll'));
    assert.match(argv.join(' '), /--urls http:\/\/0\.0\.0\.0:\d+/);
  });

  test('.dockerignore keeps build output and node_modules out of the context', () => {
    const lines = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const ignoresAll = lines[0] === '*' || lines.includes('*');
    for (const dir of ['bin', 'obj']) assert.ok(lines.some((l) => l.replace(/\/$/, '') === `**/${dir}`), `**/${dir} not ignored`);
    if (ignoresAll) assert.ok(lines.includes('!src/') || lines.includes('!src'), 'allow-list drops src/');
    else assert.ok(lines.some((l) => /node_modules/.test(l)), 'node_modules not ignored');
    for (const needed of ['Directory.Build.props', 'Directory.Packages.props']) {
      assert.ok(!ignoresAll || lines.includes(`!${needed}`), `${needed} is excluded from the build context`);
    }
  });
});

describe('docker-compose.yml', () => {
  test('ships no usable key: the admin key and every tenant key are required from the environment', () => {
    const env = services[siloNames[0]]?.environment ?? {};
    const secrets = Object.keys(env).filter((k) => USABLE_SECRET.test(k));
    assert.ok(secrets.includes('Relay__AdminKey') && secrets.some((k) => k.includes('__Keys__')), `secrets: ${secrets}`);
    for (const key of secrets) {
      // ${NAME:?message}: compose refuses to start without NAME, so no value from this file can ever be used.
      assert.match(String(env[key]), /^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$/, `${key} is ${env[key]}, not a required variable`);
    }
  });

  test('redis persists with AOF, never evicts, keeps its data in a named volume, and has a ping healthcheck', () => {
    const redis = services.redis;
    assert.ok(redis, 'no redis service');
    const command = [].concat(redis.command ?? []).join(' ');
    let conf = parseRedisConf(command.replace(/--/g, '\n'));
    const confArg = command.split(/\s+/).find((a) => a.endsWith('.conf'));
    if (confArg) {
      const mount = (redis.volumes ?? []).map((v) => String(v).split(':')).find(([, target]) => target === confArg);
      assert.ok(mount, `${confArg} is not mounted into the redis container`);
      assert.ok(existsSync(path.join(root, mount[0])), `${mount[0]} does not exist`);
      conf = new Map([...parseRedisConf(read(mount[0])), ...conf]);
    }
    assert.deepEqual(conf.get('appendonly'), ['yes']);
    assert.deepEqual(conf.get('appendfsync'), ['everysec']);
    assert.deepEqual(conf.get('maxmemory-policy'), ['noeviction']);
    const dataDir = conf.get('dir')?.at(-1) ?? '/data';
    const dataMount = (redis.volumes ?? []).map((v) => String(v).split(':')).find(([, target]) => target === dataDir);
    assert.ok(dataMount && dataMount[0] in (compose.volumes ?? {}), `redis ${dataDir} must be a declared named volume`);
    assert.match([].concat(redis.healthcheck?.test ?? []).join(' '), /redis-cli( .*)? ping/);
  });

  test('exactly three silos, with identical configuration pointing at the redis service', () => {
    assert.deepEqual(siloNames, ['silo1', 'silo2', 'silo3']);
    const [first, ...rest] = siloNames.map((n) => services[n]);
    // The address a silo advertises to the others is its own; everything else is shared.
    const shared = ({ Relay__Orleans__AdvertisedAddress: _, ...env }) => env;
    for (const silo of rest) {
      assert.deepEqual(shared(silo.environment), shared(first.environment), 'silos must not drift apart');
      assert.deepEqual(silo.image, first.image);
      assert.deepEqual(silo.build, first.build);
    }
    const env = first.environment;
    assert.equal(env.Relay__Store, 'redis');
    const { host, port } = redisEndpoint(env.Relay__Redis);
    assert.equal(host, 'redis');
    assert.ok(host in services);
    assert.equal(port, 6379);
    assert.ok(dockerStages.some((s) => s.name === first.build?.target), `build target ${first.build?.target} is not a Dockerfile stage`);
    assert.ok(env.Relay__AdminKey, 'no admin key: a random one per silo would differ between silos');
    assertRelayConfigConsistent(env, 'compose silo env');
    for (const [key, value] of Object.entries(env)) {
      const m = /^Relay__Providers__(.+)__BaseUrl$/.exec(key);
      if (m) assert.ok(new URL(value).hostname in services, `${key} points at ${value}, not a compose service`);
    }
  });

  test('the silos form one Orleans cluster: same ServiceId/ClusterId, a fixed silo port between silos only, own advertised address', () => {
    const ports = new Set();
    for (const name of siloNames) {
      const silo = services[name];
      const env = silo.environment;
      assert.ok(env.Relay__Orleans__ServiceId && env.Relay__Orleans__ClusterId, `${name}: ServiceId and ClusterId are set`);
      const orleansPort = Number(env.Relay__SiloPort);
      assert.ok(Number.isInteger(orleansPort) && orleansPort > 0 && orleansPort !== SILO_PORT, `${name}: Relay__SiloPort ${env.Relay__SiloPort}`);
      ports.add(orleansPort);
      // Docker resolves the container's host name to its address on the project network: what the others dial.
      assert.equal(env.Relay__Orleans__AdvertisedAddress, silo.hostname, `${name} advertises its own host name`);
      assert.equal(silo.hostname, name);
      assert.ok((silo.expose ?? []).map(Number).includes(orleansPort), `${name} exposes the silo port to the other containers`);
      const published = (silo.ports ?? []).map((p) => Number(String(p.target ?? p).split(':').at(-1).split('/')[0]));
      assert.ok(!published.includes(orleansPort), `${name} publishes the silo port on the host`);
      // Joining the cluster takes a few seconds when silos start together: /readyz is 503 until then.
      assert.ok(seconds(silo.healthcheck?.start_period ?? '0s') >= 20, `${name}: healthcheck start_period ${silo.healthcheck?.start_period}`);
    }
    assert.equal(ports.size, 1, 'one silo port for every silo');
  });

  test('each silo waits for a healthy redis and for mockupstream, and shares the files volume', () => {
    for (const name of siloNames) {
      const silo = services[name];
      const deps = silo.depends_on ?? {};
      assert.equal(deps.redis?.condition, 'service_healthy', `${name} must wait for redis to be healthy`);
      assert.ok('mockupstream' in deps, `${name} must depend on mockupstream`);
      const files = (silo.volumes ?? []).map((v) => String(v).split(':')).find(([, target]) => target === silo.environment.Relay__Files__Path);
      assert.ok(files, `${name} does not mount Relay__Files__Path`);
      assert.equal(files[0], 'files');
      assert.ok('files' in (compose.volumes ?? {}));
      const batches = (silo.volumes ?? []).map((v) => String(v).split(':')).find(([, target]) => target === silo.environment.Relay__Batches__WorkPath);
      assert.ok(batches && batches[0] in (compose.volumes ?? {}), `${name} does not mount a shared volume at Relay__Batches__WorkPath`);
      assert.match([].concat(silo.healthcheck?.test ?? []).join(' '), new RegExp(`:${SILO_PORT}/(readyz|healthz)`));
      assert.ok(seconds(silo.stop_grace_period) > Number(silo.environment.shutdownTimeoutSeconds), 'Docker would kill a silo still draining');
    }
  });

  test('lb is nginx with deploy/nginx.conf, publishing 8080 on the port nginx listens on', () => {
    const lb = services.lb;
    assert.match(lb.image, /^nginx(:|$)/);
    const mount = (lb.volumes ?? []).map((v) => String(v).split(':')).find(([, target]) => target === '/etc/nginx/nginx.conf');
    assert.ok(mount, 'nginx.conf is not mounted');
    assert.equal(path.normalize(mount[0]), path.normalize('./deploy/nginx.conf'));
    const published = (lb.ports ?? []).map((p) => (typeof p === 'object' ? [String(p.published), String(p.target)] : String(p).split(':').slice(-2)));
    const mapping = published.find(([host]) => host === '8080');
    assert.ok(mapping, 'host port 8080 not published');
    const listens = own(own(own(nginx, 'http')[0], 'server')[0], 'listen').map((d) => d.args[0].split(':').at(-1));
    assert.ok(listens.includes(mapping[1]), `nginx listens on ${listens}, compose forwards to ${mapping[1]}`);
    for (const name of siloNames) assert.ok(name in (lb.depends_on ?? {}), `lb must start after ${name}`);
  });
});

describe('deploy/nginx.conf', () => {
  const http = own(nginx, 'http')[0];
  const servers = http ? own(http, 'server') : [];
  const proxied = servers.flatMap((server) => own(server, 'location').filter((l) => own(l, 'proxy_pass').length).map((location) => ({ server, location })));

  test('is a complete config: balanced braces, events and http blocks', () => {
    assert.ifError(nginxError);
    assert.equal(own(nginx, 'events').length, 1);
    assert.ok(http, 'no http block');
    assert.ok(servers.length >= 1);
    assert.ok(proxied.length >= 1, 'no location proxies to the silos');
  });

  test('every proxied upstream lists exactly the compose silos on the silo port, with keepalive for the API', () => {
    const upstreams = new Map(own(http, 'upstream').map((u) => [u.args[0], u]));
    for (const { location } of proxied) {
      const target = new URL(own(location, 'proxy_pass')[0].args[0]).host;
      const upstream = upstreams.get(target);
      assert.ok(upstream, `proxy_pass to ${target}, which is no upstream block`);
      const hosts = own(upstream, 'server').map((s) => s.args[0]).sort();
      assert.deepEqual(hosts, siloNames.map((n) => `${n}:${SILO_PORT}`));
    }
    const api = proxied.find(({ location }) => location.args.at(-1) === '/');
    assert.ok(api, 'no `location /`');
    const apiUpstream = upstreams.get(new URL(own(api.location, 'proxy_pass')[0].args[0]).host);
    assert.ok(own(apiUpstream, 'keepalive').length, 'no keepalive pool to the silos');
  });

  test('every proxied location is SSE-safe: unbuffered, uncached, HTTP/1.1, hour-long timeouts', () => {
    assert.ok(proxied.length >= 2, 'expected the API and the hubs locations');
    for (const { server, location } of proxied) {
      const chain = [http, server, location];
      const where = `location ${location.args.join(' ')}`;
      assert.deepEqual(effective(chain, 'proxy_buffering'), ['off'], where);
      assert.deepEqual(effective(chain, 'proxy_cache'), ['off'], where);
      assert.deepEqual(effective(chain, 'proxy_http_version'), ['1.1'], where);
      assert.ok(seconds(effective(chain, 'proxy_read_timeout')?.[0] ?? '60s') >= 3600, `${where}: proxy_read_timeout`);
      assert.ok(seconds(effective(chain, 'proxy_send_timeout')?.[0] ?? '60s') >= 3600, `${where}: proxy_send_timeout`);
      assert.ok(bytes(effective(chain, 'client_max_body_size')?.[0] ?? '1m') >= 200 * 1024 ** 2, `${where}: batch files need 200 MB`);
      const headers = effectiveHeaders(chain);
      for (const h of ['x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'host']) assert.ok(headers.has(h), `${where} does not pass ${h}`);
      // "close" (nginx's default) would defeat the upstream keepalive pool.
      const connection = headers.get('connection') ?? 'close';
      const connectionMap = own(http, 'map').find((m) => m.args[1] === connection);
      const plainConnection = connectionMap ? own(connectionMap, '')[0]?.args[0] ?? own(connectionMap, 'default')[0]?.args[0] : connection;
      assert.ok(plainConnection !== undefined && plainConnection.toLowerCase() !== 'close', `${where}: Connection for plain requests is "${plainConnection}"`);
      const retry = effective(chain, 'proxy_next_upstream') ?? [];
      assert.ok(!retry.includes('non_idempotent'), `${where}: would replay POSTs (double billing)`);
    }
  });

  test('/hubs/ upgrades WebSockets via a map of $http_upgrade', () => {
    const map = own(http, 'map').find((m) => m.args[0] === '$http_upgrade');
    assert.ok(map, 'no map $http_upgrade');
    const variable = map.args[1];
    const hubs = proxied.find(({ location }) => location.args.at(-1).startsWith('/hubs'));
    assert.ok(hubs, 'no /hubs location');
    const headers = effectiveHeaders([http, hubs.server, hubs.location]);
    assert.equal(headers.get('upgrade'), '$http_upgrade');
    assert.equal(headers.get('connection'), variable);
    const upgradeValue = own(map, 'default')[0]?.args[0];
    assert.equal(upgradeValue, 'upgrade');
  });
});

describe('deploy/redis.conf', () => {
  test('AOF every second, RDB snapshots as a backup, and no eviction', () => {
    assert.deepEqual(redisConf.get('appendonly'), ['yes']);
    assert.deepEqual(redisConf.get('appendfsync'), ['everysec']);
    assert.deepEqual(redisConf.get('maxmemory-policy'), ['noeviction']);
    assert.ok((redisConf.get('save') ?? []).some((s) => /^\d+ \d+$/.test(s)), 'no RDB save points');
  });
});

describe('deploy/k8s', () => {
  const namespace = one('Namespace').metadata.name;
  const deployment = one('Deployment');
  const pod = deployment.spec.template;
  const silo = pod.spec.containers[0];
  const envFromConfig = () => {
    const env = {};
    for (const src of silo.envFrom ?? []) {
      const ref = src.configMapRef ?? src.secretRef;
      const res = byName(src.configMapRef ? 'ConfigMap' : 'Secret', ref.name);
      Object.assign(env, res?.data ?? {}, res?.stringData ?? {});
    }
    return env;
  };
  const portOf = (container, port) => (typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort);

  test('every document has apiVersion, kind, metadata.name and lives in the namespace', () => {
    assert.ok(k8sFiles.length >= 8);
    const seen = new Set();
    for (const { file, doc } of k8sDocs) {
      assert.ok(doc.apiVersion && doc.kind, `${file}: apiVersion/kind`);
      if (doc.kind === 'Kustomization') continue;
      assert.ok(doc.metadata?.name, `${file}: ${doc.kind} without metadata.name`);
      if (doc.kind !== 'Namespace') assert.equal(doc.metadata.namespace, namespace, `${file}: ${doc.kind}/${doc.metadata.name}`);
      const id = `${doc.kind}/${doc.metadata.name}`;
      assert.ok(!seen.has(id), `${id} defined twice`);
      seen.add(id);
    }
  });

  test('kustomization.yaml lists every manifest, so `kubectl apply -k` applies them all', () => {
    const kustomization = k8sDocs.find(({ doc }) => doc.kind === 'Kustomization')?.doc;
    assert.ok(kustomization);
    assert.deepEqual([...kustomization.resources].sort(), k8sFiles.filter((f) => !/^kustomization\.ya?ml$/.test(f)).sort());
  });

  test('the silo Deployment: 3 replicas, probes on /readyz and /healthz at the container port, resources', () => {
    assert.equal(deployment.spec.replicas, 3);
    assert.ok(matches(deployment.spec.selector.matchLabels, pod.metadata.labels), 'selector does not match the pod labels');
    assert.equal(portOf(silo, 'http') ?? silo.ports[0].containerPort, SILO_PORT);
    const probe = (p) => ({ path: p?.httpGet?.path, port: portOf(silo, p?.httpGet?.port) });
    assert.deepEqual(probe(silo.readinessProbe), { path: '/readyz', port: SILO_PORT });
    assert.deepEqual(probe(silo.livenessProbe), { path: '/healthz', port: SILO_PORT });
    if (silo.startupProbe) assert.equal(probe(silo.startupProbe).port, SILO_PORT, 'startupProbe port');
    for (const kind of ['requests', 'limits']) {
      assert.ok(silo.resources?.[kind]?.cpu || silo.resources?.[kind]?.memory, `no resource ${kind}`);
    }
    assert.ok(bytes(silo.resources.limits.memory) >= bytes(silo.resources.requests.memory));
  });

  test('every key and secret the Secret ships is a placeholder the silos refuse at start', () => {
    const shipped = ofKind('Secret').flatMap((secret) => Object.entries({ ...secret.data, ...secret.stringData }));
    const usable = shipped.filter(([key]) => USABLE_SECRET.test(key));
    assert.ok(usable.some(([key]) => key.includes('__Keys__')), 'the Secret shows no tenant key to replace');
    for (const [key, value] of usable) {
      assert.ok(secretWeakness(String(value)), `${key} ships ${value}, which a silo would accept: anyone who read the file could use it`);
    }
  });

  test('env references only ConfigMaps, Secrets and keys that exist; no secret sits in a ConfigMap', () => {
    for (const src of silo.envFrom ?? []) {
      if (src.configMapRef) assert.ok(byName('ConfigMap', src.configMapRef.name), `ConfigMap ${src.configMapRef.name} missing`);
      if (src.secretRef) assert.ok(byName('Secret', src.secretRef.name), `Secret ${src.secretRef.name} missing`);
    }
    for (const e of silo.env ?? []) {
      for (const [kind, ref] of [['ConfigMap', e.valueFrom?.configMapKeyRef], ['Secret', e.valueFrom?.secretKeyRef]]) {
        if (!ref) continue;
        const res = byName(kind, ref.name);
        assert.ok(res, `${kind} ${ref.name} missing`);
        assert.ok(ref.key in { ...res.data, ...res.stringData }, `${kind} ${ref.name} has no key ${ref.key}`);
      }
    }
    for (const cm of ofKind('ConfigMap')) {
      for (const [key, value] of Object.entries(cm.data ?? {})) {
        assert.doesNotMatch(key, /ApiKey|AdminKey|__Keys__\d+$|Password/i, `${cm.metadata.name} holds secret ${key}`);
        assert.doesNotMatch(String(value), /(^|,)\s*password=/i, `${cm.metadata.name}: ${key} carries a password`);
      }
    }
    const env = envFromConfig();
    assert.equal(env.Relay__Store, 'redis');
    assert.ok(env.Relay__AdminKey, 'no admin key: each silo would generate a different one');
    const { host, port } = redisEndpoint(env.Relay__Redis);
    // A short or *.svc name is in-cluster and must be one of these Services; anything else is a
    // managed Redis outside the cluster.
    if (!host.includes('.') || /\.svc(\.|$)/.test(host)) {
      const redisService = byName('Service', host.split('.')[0]);
      assert.ok(redisService, `Relay__Redis points at ${host}, which is no Service`);
      assert.ok(redisService.spec.ports.some((p) => p.port === port), `Service ${host} has no port ${port}`);
    }
    assertRelayConfigConsistent(env, 'ConfigMap + Secret');
  });

  test('the shared files volume is a ReadWriteMany claim mounted at Relay__Files__Path', () => {
    const volumes = new Map(pod.spec.volumes.map((v) => [v.name, v]));
    for (const m of silo.volumeMounts) assert.ok(volumes.has(m.name), `volumeMount ${m.name} has no volume`);
    const mount = silo.volumeMounts.find((m) => m.mountPath === envFromConfig().Relay__Files__Path);
    assert.ok(mount, 'Relay__Files__Path is not a mounted volume');
    const claim = volumes.get(mount.name).persistentVolumeClaim?.claimName;
    const pvc = byName('PersistentVolumeClaim', claim);
    assert.ok(pvc, `PVC ${claim} missing`);
    assert.ok(pvc.spec.accessModes.includes('ReadWriteMany'), 'several silos share it: needs ReadWriteMany');
    const work = silo.volumeMounts.find((m) => m.mountPath === envFromConfig().Relay__Batches__WorkPath);
    assert.ok(work, 'Relay__Batches__WorkPath is not a mounted volume');
    assert.equal(volumes.get(work.name).persistentVolumeClaim?.claimName, claim, 'batch parts must be on the shared volume too');
    assert.notEqual(work.subPath ?? '', mount.subPath ?? '', 'files and batch parts in different folders');
  });

  test('graceful drain: preStop sleep + shutdown timeout fit in terminationGracePeriodSeconds', () => {
    const preStop = silo.lifecycle?.preStop;
    assert.ok(preStop, 'no preStop hook');
    const sleep = preStop.sleep?.seconds ?? Number(preStop.exec?.command?.find((a) => /^\d+$/.test(a)));
    assert.ok(sleep > 0, 'preStop does not sleep');
    const shutdown = Number(envFromConfig().shutdownTimeoutSeconds ?? 30);
    assert.ok(pod.spec.terminationGracePeriodSeconds >= sleep + shutdown, 'the kubelet would kill silos mid-drain');
    assert.ok(shutdown >= 60, 'streams need more than the default 30 s to finish');
  });

  test('the silos form one Orleans cluster: silo port on the pod, pod IP advertised, silo port open to silos only', () => {
    const env = envFromConfig();
    assert.equal(env.Relay__Store, 'redis');
    assert.ok(env.Relay__Orleans__ServiceId && env.Relay__Orleans__ClusterId, 'ServiceId and ClusterId in the ConfigMap');
    const orleansPort = Number(env.Relay__SiloPort);
    assert.ok(orleansPort > 0 && orleansPort !== SILO_PORT, `Relay__SiloPort ${env.Relay__SiloPort}`);
    const named = silo.ports.find((p) => p.containerPort === orleansPort);
    assert.ok(named?.name, `the Deployment declares the silo port ${orleansPort} by name`);
    const advertised = (silo.env ?? []).find((e) => e.name === 'Relay__Orleans__AdvertisedAddress');
    assert.equal(advertised?.valueFrom?.fieldRef?.fieldPath, 'status.podIP', 'each pod advertises its own IP');
    for (const service of ofKind('Service')) {
      for (const p of service.spec.ports ?? []) {
        assert.notEqual(portOf(silo, p.targetPort ?? p.port), orleansPort, `Service ${service.metadata.name} exposes the silo port`);
      }
    }
    const policy = ofKind('NetworkPolicy').find((n) => matches(n.spec.podSelector.matchLabels, pod.metadata.labels));
    assert.ok(policy, 'no NetworkPolicy guards the silo pods');
    const rules = policy.spec.ingress.filter((r) => (r.ports ?? []).some((p) => portOf(silo, p.port) === orleansPort));
    assert.ok(rules.length >= 1, 'the NetworkPolicy does not open the silo port');
    for (const rule of rules) {
      assert.ok(rule.from?.length && rule.from.every((f) => f.podSelector && matches(f.podSelector.matchLabels, pod.metadata.labels)),
        'the silo port is open to silo pods only');
    }
    assert.ok(policy.spec.ingress.some((r) => !r.from && (r.ports ?? []).some((p) => portOf(silo, p.port) === SILO_PORT)), 'HTTP stays open');
  });

  test('the silo Service and PodDisruptionBudget select the Deployment pods', () => {
    const service = resources.find((r) => r.kind === 'Service' && matches(r.spec.selector, pod.metadata.labels));
    assert.ok(service, 'no Service selects the silo pods');
    assert.notEqual(service.spec.clusterIP, 'None');
    for (const p of service.spec.ports) assert.equal(portOf(silo, p.targetPort ?? p.port), SILO_PORT);
    for (const pdb of ofKind('PodDisruptionBudget')) assert.ok(matches(pdb.spec.selector.matchLabels, pod.metadata.labels));
  });

  test('ingress routes to existing Service ports and is SSE-friendly', () => {
    const ingresses = ofKind('Ingress');
    assert.ok(ingresses.length >= 1);
    for (const ing of ingresses) {
      for (const rule of ing.spec.rules) {
        for (const { backend } of rule.http.paths) {
          const svc = byName('Service', backend.service.name);
          assert.ok(svc, `Ingress ${ing.metadata.name} → missing Service ${backend.service.name}`);
          const { name, number } = backend.service.port;
          assert.ok(svc.spec.ports.some((p) => p.name === name || p.port === number), `Service ${svc.metadata.name} has no port ${name ?? number}`);
        }
      }
      const a = ing.metadata.annotations ?? {};
      assert.equal(a['nginx.ingress.kubernetes.io/proxy-buffering'], 'off', ing.metadata.name);
      assert.ok(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 3600, ing.metadata.name);
    }
    const api = ingresses.find((i) => i.spec.rules.some((r) => r.http.paths.some((p) => p.path === '/')));
    assert.ok(api, 'nothing routes /');
    assert.ok(bytes(api.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size']) >= 200 * 1024 ** 2);
  });

  test('Redis StatefulSet: headless governing Service, persistent /data, AOF and noeviction config', (t) => {
    if (!ofKind('StatefulSet').length) {
      t.skip('no in-cluster Redis (managed Redis)');
      return;
    }
    const sts = one('StatefulSet');
    const labels = sts.spec.template.metadata.labels;
    assert.ok(matches(sts.spec.selector.matchLabels, labels));
    const headless = byName('Service', sts.spec.serviceName);
    assert.ok(headless, `serviceName ${sts.spec.serviceName} is no Service`);
    assert.equal(headless.spec.clusterIP, 'None');
    assert.ok(matches(headless.spec.selector, labels));
    const container = sts.spec.template.spec.containers[0];
    const claims = (sts.spec.volumeClaimTemplates ?? []).map((c) => c.metadata.name);
    const volumes = new Map((sts.spec.template.spec.volumes ?? []).map((v) => [v.name, v]));
    for (const m of container.volumeMounts) assert.ok(claims.includes(m.name) || volumes.has(m.name), `mount ${m.name} undefined`);
    const dataMount = container.volumeMounts.find((m) => claims.includes(m.name));
    assert.ok(dataMount, 'Redis data is not on a volumeClaimTemplate');

    const confFile = [].concat(container.args ?? [], container.command ?? []).find((a) => a.endsWith('.conf'));
    const confMount = container.volumeMounts.find((m) => confFile?.startsWith(m.mountPath + '/'));
    assert.ok(confMount, 'redis.conf is not mounted');
    const cm = byName('ConfigMap', volumes.get(confMount.name)?.configMap?.name);
    assert.ok(cm, 'redis config ConfigMap missing');
    const conf = parseRedisConf(cm.data[path.posix.basename(confFile)]);
    for (const key of ['appendonly', 'appendfsync', 'maxmemory-policy', 'save', 'dir']) {
      assert.deepEqual(conf.get(key), redisConf.get(key), `${key} differs from deploy/redis.conf`);
    }
    assert.equal(conf.get('dir')[0], dataMount.mountPath);
    const limit = container.resources?.limits?.memory;
    const maxmemory = conf.get('maxmemory')?.at(-1);
    if (limit) assert.ok(maxmemory && bytes(maxmemory) > 0 && bytes(maxmemory) < bytes(limit), 'maxmemory must sit below the pod memory limit');
  });
});
