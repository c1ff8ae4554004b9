import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { apiEnvSchema, ENV_ALIASES, loadEnv, workerEnvSchema } from '@render-signal/config';
import { startWorld, type World } from '../helpers/world';

/**
 * There is no Docker engine nor Render account in the test environment: these checks keep the deployment
 * files from drifting away from the code (commands, env names and values, health path, secrets).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Yaml = Record<string, unknown>;
const asRecord = (value: unknown): Yaml => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Yaml) : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

const compose = parse(read('docker-compose.yml'), { merge: true }) as Yaml;
const blueprint = parse(read('render.yaml')) as Yaml;
const rootPackage = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
const dockerfile = read('Dockerfile');

/** Variables our deployment files may set that no schema reads, and why. */
const DOCUMENTED_EXTRAS: Record<string, string> = {
  NODE_ENV: 'set to production by the Dockerfile: production mode (docs/security.md)',
};

const apiNames = new Set(Object.keys(apiEnvSchema.shape));
const workerNames = new Set(Object.keys(workerEnvSchema.shape));
const aliasNames = new Set(ENV_ALIASES.map(([alias]) => alias));
const isKnownName = (name: string, schemaNames: Set<string>) => schemaNames.has(name) || aliasNames.has(name) || name in DOCUMENTED_EXTRAS;

/** Sample values for the secrets the operator provides (compose `${X:?…}`, Render `sync: false`). */
const OPERATOR_SECRETS: Record<string, string> = {
  PROCESS_API_TOKEN: 'deploy-test-token-4f9c2a7e1b',
  SECRET_KEY: 'deploy-test-secret-key-7c1e9a3f5b2d8046',
  METRICS_TOKEN: 'deploy-test-metrics-token-9e2b7c41',
  WEBHOOK_URL: 'https://hooks.example.com/render-signal',
  WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
};

const commandOf = (script: string | undefined) => (script ?? '').trim().split(/\s+/);

// ---------------------------------------------------------------------------------------------------

/** apps/worker/src/main.ts SHUTDOWN_GRACE_MS: after SHUTDOWN_TIMEOUT, a worker has this long for its last Redis writes. */
const WORKER_SHUTDOWN_GRACE_MS = 5_000;

describe('Dockerfile', () => {
  const instruction = (name: string) => dockerfile.split('\n').filter((line) => line.startsWith(`${name} `));

  it('runs the API by default with the start:api command, behind tini, as a non-root user', () => {
    const cmd = instruction('CMD').at(-1) ?? '';
    expect(JSON.parse(cmd.slice('CMD '.length))).toEqual(commandOf(rootPackage.scripts['start:api']));
    expect(JSON.parse((instruction('ENTRYPOINT').at(-1) ?? '').slice('ENTRYPOINT '.length))).toEqual(['/usr/bin/tini', '-s', '--']);
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends tini/);
    const user = instruction('USER').at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/root|\b0\b/);
  });

  it('builds on node:22-bookworm-slim with npm ci from the lockfile, and ships production dependencies only', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-bookworm-slim$/m);
    expect(instruction('FROM').every((line) => line.startsWith('FROM ${NODE_IMAGE}'))).toBe(true);
    expect(dockerfile).toMatch(/RUN npm ci --no-audit/);
    expect(dockerfile).toMatch(/npm ci --omit=dev --workspaces --include-workspace-root/);
    expect(dockerfile).toMatch(/RUN npm run build/);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/COPY --from=prod-deps/);
    expect(runtime).not.toMatch(/COPY --from=build \/app\/node_modules/);
  });

  it('health-checks the API liveness path', () => {
    const healthcheck = dockerfile.slice(dockerfile.indexOf('HEALTHCHECK'));
    expect(healthcheck).toMatch(/\/healthz/);
  });

  it('sets only known environment variables', () => {
    const names = [...dockerfile.matchAll(/^ENV ((?:.|\\\n)+?)$(?<!\\)/gm)].flatMap((m) =>
      (m[1] ?? '')
        .split(/\s+\\?\s*/)
        .filter((pair) => pair.includes('='))
        .map((pair) => pair.split('=')[0] ?? ''),
    );
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(isKnownName(name, apiNames)).toBe(true);
  });

  it('.dockerignore keeps node_modules, dist and local secrets out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.env', '.git']));
  });
});

describe('docker-compose.yml', () => {
  const services = asRecord(compose.services);
  const service = (name: string) => asRecord(services[name]);

  /** Resolves compose interpolation the way `docker compose` does with an .env holding only the secrets. */
  function resolveEnvironment(env: Yaml): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, raw] of Object.entries(env)) {
      out[name] = String(raw).replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_m, variable: string, kind?: string, rest?: string) => {
        if (OPERATOR_SECRETS[variable] !== undefined) return OPERATOR_SECRETS[variable] as string;
        if (kind === '?') throw new Error(`${variable} is required but has no sample value in the test`);
        return kind === '-' ? (rest ?? '') : '';
      });
    }
    return out;
  }

  it('runs Redis with AOF, noeviction, a health check and a volume', () => {
    const redis = service('redis');
    expect(String(redis.image)).toMatch(/^redis:7/);
    const command = asArray(redis.command).map(String);
    expect(command.join(' ')).toMatch(/--appendonly yes/);
    expect(command.join(' ')).toMatch(/--maxmemory-policy noeviction/);
    expect(asArray(asRecord(redis.healthcheck).test)).toEqual(['CMD', 'redis-cli', 'ping']);
    const [volume] = asArray(redis.volumes).map(String);
    expect(volume).toMatch(/:\/data$/);
    expect(Object.keys(asRecord(compose.volumes))).toContain(volume?.split(':')[0]);
  });

  it.each([
    ['api', 'start:api'],
    ['worker', 'start:worker'],
  ])('%s runs the %s command once Redis is healthy', (name, script) => {
    const s = service(name);
    expect(asArray(s.command)).toEqual(commandOf(rootPackage.scripts[script]));
    expect(asRecord(asRecord(s.depends_on).redis).condition).toBe('service_healthy');
    expect(asRecord(s.environment).REDIS_URL).toBe('redis://redis:6379');
  });

  it('publishes the API port it listens on', () => {
    const api = service('api');
    const env = resolveEnvironment(asRecord(api.environment));
    const published = asArray(api.ports).map(String);
    expect(published.some((p) => p.endsWith(`:${env.PORT}`))).toBe(true);
  });

  it('lets the worker scale: no container name, no published port, no HTTP health check, a grace period above SHUTDOWN_TIMEOUT and the exit grace', () => {
    const worker = service('worker');
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(asRecord(worker.healthcheck).disable).toBe(true);
    const env = loadEnv(workerEnvSchema, resolveEnvironment(asRecord(worker.environment)));
    const grace = /^(\d+)s$/.exec(String(worker.stop_grace_period));
    expect(Number(grace?.[1]) * 1000).toBeGreaterThan(env.SHUTDOWN_TIMEOUT + WORKER_SHUTDOWN_GRACE_MS);
  });

  it.each([
    ['api', apiEnvSchema, apiNames],
    ['worker', workerEnvSchema, workerNames],
  ] as const)('%s environment: every name is one the app reads, and the defaults parse', (name, schema, names) => {
    const env = asRecord(service(name).environment);
    for (const key of Object.keys(env)) expect([key, isKnownName(key, names)]).toEqual([key, true]);
    // As the image runs them: NODE_ENV=production (the Dockerfile's), so the sample secrets must be strong enough.
    expect(() => loadEnv(schema, { NODE_ENV: 'production', ...resolveEnvironment(env) })).not.toThrow();
  });

  it('api: trusts no proxy (the port is published) and requires a METRICS_TOKEN', () => {
    const env = asRecord(service('api').environment);
    expect(env.TRUST_PROXY).toBe('${TRUST_PROXY:-false}');
    expect(String(env.METRICS_TOKEN)).toMatch(/^\$\{METRICS_TOKEN:\?.*openssl rand/);
  });

  it('has a webhook sink for trying it out, only under the sink profile', () => {
    expect(asArray(service('sink').profiles)).toEqual(['sink']);
    for (const name of ['redis', 'api', 'worker']) expect(service(name).profiles).toBeUndefined();
  });
});

describe('render.yaml', () => {
  const services = asArray(blueprint.services).map(asRecord);
  const byType = (type: string) => services.filter((s) => s.type === type);
  const web = byType('web')[0] ?? {};
  const workers = byType('worker');
  const keyValue = byType('keyvalue')[0] ?? {};
  const envVars = (service: Yaml) => asArray(service.envVars).map(asRecord);

  /** The literal values of a service, with the operator's secrets filled in as Render would prompt for them. */
  const renderEnvironment = (service: Yaml) => {
    const env: Record<string, string> = { REDIS_URL: 'redis://red-abc123:6379' };
    for (const v of envVars(service)) {
      const key = String(v.key);
      if (v.value !== undefined) env[key] = String(v.value);
      else if (v.sync === false && OPERATOR_SECRETS[key] !== undefined) env[key] = OPERATOR_SECRETS[key] as string;
    }
    return env;
  };

  it('has one web service, at least one worker and a Key Value instance', () => {
    expect(byType('web')).toHaveLength(1);
    expect(workers.length).toBeGreaterThanOrEqual(1);
    expect(byType('keyvalue')).toHaveLength(1);
  });

  it('builds every service from the Dockerfile with the package.json start commands', () => {
    expect(web.runtime).toBe('docker');
    expect(existsSync(join(ROOT, String(web.dockerfilePath)))).toBe(true);
    expect(commandOf(String(web.dockerCommand))).toEqual(commandOf(rootPackage.scripts['start:api']));
    for (const worker of workers) {
      expect(worker.runtime).toBe('docker');
      expect(commandOf(String(worker.dockerCommand))).toEqual(commandOf(rootPackage.scripts['start:worker']));
    }
  });

  it('configures Key Value for queues: noeviction, internal access only', () => {
    expect(keyValue.maxmemoryPolicy).toBe('noeviction');
    expect(keyValue.ipAllowList).toEqual([]);
  });

  it('wires REDIS_URL of every service to the Key Value connection string', () => {
    for (const service of [web, ...workers]) {
      const redis = envVars(service).find((v) => v.key === 'REDIS_URL');
      expect(asRecord(redis?.fromService)).toEqual({ type: 'keyvalue', name: keyValue.name, property: 'connectionString' });
    }
  });

  it('gives workers instances and a shutdown delay longer than their SHUTDOWN_TIMEOUT and the exit grace', () => {
    for (const worker of workers) {
      expect(Number(worker.numInstances)).toBeGreaterThanOrEqual(1);
      const delay = Number(worker.maxShutdownDelaySeconds);
      expect(delay).toBeGreaterThanOrEqual(1);
      expect(delay).toBeLessThanOrEqual(300);
      const env = loadEnv(workerEnvSchema, renderEnvironment(worker));
      expect(delay * 1000).toBeGreaterThan(env.SHUTDOWN_TIMEOUT + WORKER_SHUTDOWN_GRACE_MS);
    }
  });

  it('never commits a secret: they are sync: false, without a value', () => {
    const secrets = ['PROCESS_API_TOKEN', 'SECRET_KEY', 'WEBHOOK_SECRET', 'R2_FETCH_TOKEN', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'];
    for (const service of [web, ...workers]) {
      for (const v of envVars(service)) {
        if (secrets.includes(String(v.key))) expect([v.key, v.sync, v.value]).toEqual([v.key, false, undefined]);
      }
    }
    const webKeys = envVars(web).map((v) => v.key);
    expect(webKeys).toEqual(expect.arrayContaining(['PROCESS_API_TOKEN', 'SECRET_KEY']));
  });

  it('web: trusts the 2 hops in front (Cloudflare edge + Render proxy) and generates METRICS_TOKEN', () => {
    const byKey = new Map(envVars(web).map((v) => [v.key, v]));
    expect(byKey.get('TRUST_PROXY')?.value).toBe('2');
    expect(byKey.get('METRICS_TOKEN')).toEqual({ key: 'METRICS_TOKEN', generateValue: true });
  });

  it.each([
    ['web', () => [web], apiEnvSchema, apiNames],
    ['worker', () => workers, workerEnvSchema, workerNames],
  ] as const)('%s env vars: every name is one the app reads, and the values parse', (_type, select, schema, names) => {
    for (const service of select()) {
      for (const v of envVars(service)) expect([v.key, isKnownName(String(v.key), names)]).toEqual([v.key, true]);
      expect(() => loadEnv(schema, { NODE_ENV: 'production', ...renderEnvironment(service) })).not.toThrow();
    }
  });

  describe('health check path', () => {
    // The API as the tests build it (createApp with real Redis); no workers: the path must not need them.
    let world: World;
    beforeAll(async () => {
      world = await startWorld({ workers: false });
    });
    afterAll(async () => {
      await world.close();
    });

    it('is served by the API with 200', async () => {
      expect(web.healthCheckPath).toBe('/healthz');
      const res = await fetch(`${world.apiUrl}${String(web.healthCheckPath)}`);
      expect(res.status).toBe(200);
    });
  });
});

describe('GitHub workflows', () => {
  const workflowFiles = readdirSync(join(ROOT, '.github/workflows')).filter((f) => f.endsWith('.yml'));
  const ci = parse(read('.github/workflows/ci.yml')) as Yaml;
  const image = parse(read('.github/workflows/render-image.yml')) as Yaml;
  const steps = (workflow: Yaml) => Object.values(asRecord(workflow.jobs)).flatMap((job) => asArray(asRecord(job).steps).map(asRecord));

  it.each(workflowFiles)('%s: every expression is well-formed ${{ … }} and secrets never appear inside a run script', (file) => {
    const text = read(`.github/workflows/${file}`);
    const opened = text.match(/\$\{\{/g)?.length ?? 0;
    const wellFormed = text.match(/\$\{\{[^{}]*\}\}/g)?.length ?? 0;
    expect(wellFormed).toBe(opened);
    expect(text).not.toMatch(/\$\{\s*(secrets|github|vars|env|steps|needs|matrix)\./);
    expect(text).not.toMatch(/(?<!\$)\{\{\s*(secrets|github|vars)\./);
    const workflow = parse(text) as Yaml;
    for (const step of steps(workflow)) expect(String(step.run ?? '')).not.toMatch(/secrets\./);
  });

  it('ci runs npm test on Node 22 and 20 for pushes and pull requests, with a Redis service', () => {
    const on = asRecord(ci.on);
    expect(Object.keys(on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
    const job = asRecord(asRecord(ci.jobs).test);
    expect(
      asArray(asRecord(asRecord(job.strategy).matrix).node)
        .map(String)
        .sort(),
    ).toEqual(['20', '22']);
    expect(String(asRecord(asRecord(job.services).redis).image)).toMatch(/^redis:/);
    const runs = steps(ci).map((s) => String(s.run ?? ''));
    expect(runs.some((r) => /npm ci\b/.test(r))).toBe(true);
    expect(runs.some((r) => r.trim() === 'npm test')).toBe(true);
    // The tests reach the service container through the port it is mapped to.
    const port = String(asArray(asRecord(asRecord(job.services).redis).ports)[0]).split(':')[0];
    expect(String(asRecord(job.env).TEST_REDIS_URL)).toBe(`redis://127.0.0.1:${port}`);
  });

  it('render-image pushes latest and the commit sha to GHCR, then triggers Render through env-passed secrets', () => {
    expect(asRecord(image.permissions).packages).toBe('write');
    const all = steps(image);
    const login = all.find((s) => String(s.uses).startsWith('docker/login-action@'));
    expect(asRecord(login?.with).registry).toBe('ghcr.io');
    const build = all.find((s) => String(s.uses).startsWith('docker/build-push-action@'));
    const tags = String(asRecord(build?.with).tags).trim().split('\n');
    expect(tags.map((t) => t.replace(/^.*:/, ''))).toEqual(['latest', '${{ github.sha }}']);
    expect(asRecord(build?.with).push).toBe(true);
    const deploy = all.find((s) => /RENDER_DEPLOY_HOOK_URL/.test(String(s.run ?? '')));
    const env = asRecord(deploy?.env);
    for (const secret of ['RENDER_DEPLOY_HOOK_URL', 'RENDER_API_KEY', 'RENDER_SERVICE_ID']) {
      expect(env[secret]).toBe(`\${{ secrets.${secret} }}`);
    }
    expect(String(deploy?.run)).toMatch(/https:\/\/api\.render\.com\/v1\/services\/\$\{service\}\/deploys/);
    expect(String(deploy?.run)).toMatch(/imageUrl/);
  });
});

describe('runtime dependencies', () => {
  /** The final image installs workspace "dependencies" only: every npm package the bundles import must be one. */
  it('every npm package imported by app and package sources is a declared dependency of a workspace', () => {
    const sourceDirs = [
      'apps/api/src',
      'apps/worker/src',
      'apps/cli/src',
      ...readdirSync(join(ROOT, 'packages')).map((p) => `packages/${p}/src`),
    ];
    const declared = new Set<string>();
    for (const manifest of [
      ...readdirSync(join(ROOT, 'apps')).map((a) => `apps/${a}`),
      ...readdirSync(join(ROOT, 'packages')).map((p) => `packages/${p}`),
    ]) {
      const path = join(ROOT, manifest, 'package.json');
      if (existsSync(path))
        for (const dep of Object.keys((JSON.parse(readFileSync(path, 'utf8')) as { dependencies?: Yaml }).dependencies ?? {}))
          declared.add(dep);
    }
    const missing = new Set<string>();
    const walk = (dir: string) => {
      if (!existsSync(join(ROOT, dir))) return;
      for (const entry of readdirSync(join(ROOT, dir))) {
        const rel = `${dir}/${entry}`;
        if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
        else if (/\.ts$/.test(entry) && !/\.test\.ts$/.test(entry) && !/\.d\.ts$/.test(entry)) {
          const source = readFileSync(join(ROOT, rel), 'utf8');
          for (const m of source.matchAll(
            /^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^'.][^']*)'|\bimport\(\s*'([^'.][^']*)'\s*\)/gm,
          )) {
            const specifier = m[1] ?? m[2] ?? '';
            if (specifier.startsWith('node:') || specifier.startsWith('@render-signal/')) continue;
            const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? '');
            if (!declared.has(name)) missing.add(`${name} (${rel})`);
          }
        }
      }
    };
    for (const dir of sourceDirs) walk(dir);
    expect([...missing]).toEqual([]);
  });
});
