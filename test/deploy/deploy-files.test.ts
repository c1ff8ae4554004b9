import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Miniflare } from 'miniflare';
import { parse } from 'yaml';
import { bundleR2FetchWorker } from '../../apps/r2-fetch-worker/src/bundle-worker.test-support';
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

  /** Resolves compose interpolation the way `docker compose` does with an .env holding `dotenv` (default: only the secrets). */
  function resolveEnvironment(env: Yaml, dotenv: Record<string, string> = OPERATOR_SECRETS): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, raw] of Object.entries(env)) {
      out[name] = String(raw).replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_m, variable: string, kind?: string, rest?: string) => {
        if (dotenv[variable] !== undefined && dotenv[variable] !== '') return dotenv[variable] as string;
        if (kind === '?') throw new Error(`${variable} is required but has no sample value in the test`);
        return kind === '-' ? (rest ?? '') : '';
      });
    }
    return out;
  }

  /** What a container gets: every variable of .env (env_file, when declared), then its resolved `environment` on top. */
  function containerEnvironment(name: string, dotenv: Record<string, string>): Record<string, string> {
    const s = service(name);
    const files = asArray(s.env_file).map((entry) => (typeof entry === 'string' ? entry : String(asRecord(entry).path)));
    return { ...(files.includes('.env') ? dotenv : {}), ...resolveEnvironment(asRecord(s.environment), dotenv) };
  }

  /** An operator's .env: the secrets, the dashboard and metrics settings, and Gmail push. */
  const OPERATOR_DOTENV: Record<string, string> = {
    ...OPERATOR_SECRETS,
    TRIGGER_PAGE_PASSWORD: 'a-long-dashboard-password',
    PUBLIC_BASE_URL: 'https://signal.example.net',
    METRICS_TOKEN: 'metrics-token-0123456789abcdef',
    LOG_LEVEL: 'debug',
    GMAIL_PUSH_ENABLED: 'true',
    GMAIL_PUSH_AUTH: 'oidc',
    GMAIL_PUSH_AUDIENCE: 'https://signal.example.net/api/ingress/gmail/pubsub',
    GMAIL_PUSH_SERVICE_ACCOUNT: 'push@project.iam.gserviceaccount.com',
    GMAIL_PUBSUB_TOPIC: 'projects/p/topics/gmail',
    GOOGLE_OAUTH_CLIENT_ID: 'client-id.apps.googleusercontent.com',
    GOOGLE_OAUTH_CLIENT_SECRET: 'client-secret',
    R2_FETCH_ENABLED: 'true',
    R2_FETCH_ENDPOINT: 'https://r2-fetch.example.workers.dev/',
    R2_FETCH_TOKEN: 'r2-fetch-token-0123456789',
    R2_BUCKET_NAME: 'render-signal-offload',
  };

  it.each(['api', 'worker'])('%s: every variable put in .env reaches the container with its value (env_file)', (name) => {
    const s = service(name);
    expect(asArray(s.env_file).map(asRecord)).toEqual([{ path: '.env', required: false }]);
    const env = containerEnvironment(name, OPERATOR_DOTENV);
    for (const [key, value] of Object.entries(OPERATOR_DOTENV)) expect([key, env[key]]).toEqual([key, value]);
    // Values this file fixes on purpose: the containers reach Redis and listen as the file says.
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    const schema = name === 'api' ? apiEnvSchema : workerEnvSchema;
    expect(() => loadEnv(schema, env)).not.toThrow();
  });

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

  /** What Render's generateValue makes: a random 256-bit value, base64. */
  const GENERATED = 'dGhpcyBpcyBhIDI1Ni1iaXQgZ2VuZXJhdGVkIHZhbHVlIQ==';

  /**
   * The values of a service as Render sets them: literals, the operator's secrets where Render prompts
   * (sync: false), a generated value (generateValue), another service's value (fromService envVarKey).
   */
  const renderEnvironment = (service: Yaml): Record<string, string> => {
    const env: Record<string, string> = { REDIS_URL: 'redis://red-abc123:6379' };
    for (const v of envVars(service)) {
      const key = String(v.key);
      const from = asRecord(v.fromService);
      if (v.value !== undefined) env[key] = String(v.value);
      else if (v.generateValue === true) env[key] = GENERATED;
      else if (v.sync === false && OPERATOR_SECRETS[key] !== undefined) env[key] = OPERATOR_SECRETS[key] as string;
      else if (from.envVarKey !== undefined) {
        const source = services.find((s) => s.name === from.name && s.type === from.type);
        const value = source ? renderEnvironment(source)[String(from.envVarKey)] : undefined;
        if (value !== undefined) env[key] = value;
      }
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

  it('never commits a secret: each is prompted (sync: false), generated, or read from the API service', () => {
    const secrets = [
      'PROCESS_API_TOKEN',
      'SECRET_KEY',
      'WEBHOOK_SECRET',
      'TRIGGER_PAGE_PASSWORD',
      'METRICS_TOKEN',
      'R2_FETCH_TOKEN',
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
    ];
    for (const service of [web, ...workers]) {
      for (const v of envVars(service)) {
        if (!secrets.includes(String(v.key))) continue;
        expect([v.key, v.value]).toEqual([v.key, undefined]);
        expect([v.key, v.sync === false || v.generateValue === true || v.fromService !== undefined]).toEqual([v.key, true]);
      }
    }
  });

  it('declares every key once per service', () => {
    for (const service of [web, ...workers]) {
      const keys = envVars(service).map((v) => String(v.key));
      expect([service.name, keys.filter((k, i) => keys.indexOf(k) !== i)]).toEqual([service.name, []]);
    }
  });

  it('generates SECRET_KEY, the ingress token and METRICS_TOKEN, and prompts for the password and the public origin', () => {
    const byKey = (key: string) => envVars(web).find((v) => v.key === key) ?? {};
    for (const key of ['SECRET_KEY', 'PROCESS_API_TOKEN']) expect([key, byKey(key).generateValue]).toEqual([key, true]);
    const metrics = byKey('METRICS_TOKEN');
    expect(metrics.generateValue === true || metrics.sync === false).toBe(true);
    for (const key of ['TRIGGER_PAGE_PASSWORD', 'PUBLIC_BASE_URL', 'WEBHOOK_URL', 'WEBHOOK_SECRET']) {
      expect([key, byKey(key).sync]).toEqual([key, false]);
    }
    // A generated value (256-bit, base64) is a valid ingress token and secret key for the API.
    const env = loadEnv(apiEnvSchema, { ...renderEnvironment(web), TRIGGER_PAGE_PASSWORD: 'a-long-dashboard-password' });
    expect(env.PROCESS_API_TOKEN).toEqual([GENERATED]);
    expect(env.SECRET_KEY).toBe(GENERATED);
  });

  it('gives every worker the API service’s WEBHOOK_URL, WEBHOOK_SECRET and SECRET_KEY, so they cannot drift', () => {
    for (const worker of workers) {
      for (const key of ['WEBHOOK_URL', 'WEBHOOK_SECRET', 'SECRET_KEY']) {
        const entry = envVars(worker).find((v) => v.key === key);
        expect([key, asRecord(entry?.fromService)]).toEqual([key, { type: 'web', name: web.name, envVarKey: key }]);
        expect(renderEnvironment(worker)[key]).toBe(renderEnvironment(web)[key]);
      }
    }
  });

  it('never deploys on its own: auto-deploy is off, the GitHub workflow deploys tested commits', () => {
    for (const service of [web, ...workers]) expect([service.name, service.autoDeployTrigger]).toEqual([service.name, 'off']);
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

  describe('render-image: deploys only a commit whose CI passed', () => {
    const on = asRecord(image.on);
    const jobs = asRecord(image.jobs);
    const step = (job: string, name: string) =>
      asArray(asRecord(jobs[job]).steps)
        .map(asRecord)
        .find((s) => s.name === name) ?? {};

    /** Runs a step's script with bash, the given env, and stub commands on PATH that log their arguments. */
    function runStep(script: string, env: Record<string, string>, stubs: Record<string, string> = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'rs-workflow-'));
      try {
        for (const [command, body] of Object.entries(stubs)) {
          writeFileSync(join(dir, command), `#!/usr/bin/env bash\nprintf '%s\\n' "${command} $*" >> "${dir}/calls.log"\n${body}\n`);
          chmodSync(join(dir, command), 0o755);
        }
        writeFileSync(join(dir, 'step.sh'), script);
        const output = join(dir, 'output');
        writeFileSync(output, '');
        const stdout = execFileSync('bash', ['-e', join(dir, 'step.sh')], {
          env: { PATH: `${dir}:${process.env.PATH ?? ''}`, GITHUB_OUTPUT: output, GITHUB_REPOSITORY: 'Owner/Render-Signal', ...env },
          encoding: 'utf8',
        });
        const calls = existsSync(join(dir, 'calls.log')) ? readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n') : [];
        return { stdout, output: readFileSync(output, 'utf8'), calls };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }

    it('runs after the CI workflow completes on main/master, and on release tags (never on a plain push)', () => {
      expect(asRecord(on.workflow_run)).toEqual({ workflows: [ci.name], types: ['completed'], branches: ['main', 'master'] });
      expect(asRecord(on.push)).toEqual({ tags: ['v*', 'release-*'] });
      expect(on.workflow_dispatch).toBeUndefined();
    });

    it('every job requires a successful CI run of a push (or a tag push for the image only)', () => {
      const deployIf = String(asRecord(jobs.deploy).if);
      for (const clause of [
        "github.event_name == 'workflow_run'",
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.event == 'push'",
      ])
        expect(deployIf).toContain(clause);
      const imageIf = String(asRecord(jobs.image).if);
      expect(imageIf).toContain("github.event.workflow_run.conclusion == 'success'");
      expect(imageIf).toContain("github.event.workflow_run.event == 'push'");
      // Render builds the tested commit itself: a failed image push never holds a deploy back.
      expect(asRecord(jobs.deploy).needs).toBeUndefined();
      const checkout = asArray(asRecord(jobs.image).steps)
        .map(asRecord)
        .find((s) => String(s.uses).startsWith('actions/checkout@'));
      expect(asRecord(checkout?.with).ref).toBe('${{ github.event.workflow_run.head_sha || github.sha }}');
    });

    it('moves :latest only for a tested commit of main; a tag push gets its own tag only', () => {
      const tagging = step('image', 'Image name and tags');
      const script = String(tagging.run);
      const tested = runStep(script, { EVENT_NAME: 'workflow_run', COMMIT: 'abc123', GITHUB_REF_NAME: 'main' });
      expect(tested.output).toContain('tags<<EOF\nghcr.io/owner/render-signal:latest\nghcr.io/owner/render-signal:abc123\nEOF');
      const tag = runStep(script, { EVENT_NAME: 'push', COMMIT: 'def456', GITHUB_REF_NAME: 'v1.2.0' });
      expect(tag.output).toContain('tags<<EOF\nghcr.io/owner/render-signal:v1.2.0\nEOF');
      expect(tag.output).not.toContain(':latest');
      const build = asArray(asRecord(jobs.image).steps)
        .map(asRecord)
        .find((s) => String(s.uses).startsWith('docker/build-push-action@'));
      expect(asRecord(build?.with).tags).toBe('${{ steps.image.outputs.tags }}');
      expect(asRecord(build?.with).push).toBe(true);
      expect(asRecord(asRecord(jobs.image).permissions).packages).toBe('write');
    });

    const deployStep = () => step('deploy', 'Deploy the tested commit to Render');

    it('passes secrets through env only', () => {
      const env = asRecord(deployStep().env);
      for (const secret of ['RENDER_DEPLOY_HOOK_URL', 'RENDER_API_KEY', 'RENDER_SERVICE_ID']) {
        expect(env[secret]).toBe(`\${{ secrets.${secret} }}`);
      }
      expect(env.COMMIT).toBe('${{ github.event.workflow_run.head_sha }}');
    });

    it('deploys the tested commit of each Git-backed service through the Render API (commitId, never imageUrl)', () => {
      const { calls } = runStep(
        String(deployStep().run),
        {
          RENDER_API_KEY: 'rnd_key',
          RENDER_SERVICE_ID: 'srv-api, srv-worker',
          RENDER_DEPLOY_HOOK_URL: '',
          RENDER_DEPLOY_CLEAR_CACHE: 'do_not_clear',
          COMMIT: 'abc123',
          BRANCH: 'main',
        },
        { curl: 'echo "{}"', gh: 'exit 1' },
      );
      expect(calls).toHaveLength(2);
      for (const [i, service] of ['srv-api', 'srv-worker'].entries()) {
        expect(calls[i]).toContain(`https://api.render.com/v1/services/${service}/deploys`);
        const body = JSON.parse(/-d (\{.*\})$/.exec(calls[i] ?? '')?.[1] ?? '{}') as Record<string, unknown>;
        expect(body).toEqual({ clearCache: 'do_not_clear', commitId: 'abc123' });
      }
    });

    it.each([
      ['is still the branch head: the hooks are called', 'abc123', 2],
      ['was overtaken by a newer push: nothing is deployed (that push deploys itself)', 'fff999', 0],
    ])('with deploy hooks only, when the tested commit %s', (_case, head, hookCalls) => {
      const { calls } = runStep(
        String(deployStep().run),
        {
          RENDER_API_KEY: '',
          RENDER_SERVICE_ID: '',
          RENDER_DEPLOY_HOOK_URL: 'https://api.render.com/deploy/srv-api?key=a,https://api.render.com/deploy/srv-worker?key=b',
          RENDER_DEPLOY_CLEAR_CACHE: 'do_not_clear',
          COMMIT: 'abc123',
          BRANCH: 'main',
        },
        { curl: 'true', gh: `echo ${head}` },
      );
      expect(calls.filter((c) => c.startsWith('gh '))).toEqual(['gh api repos/Owner/Render-Signal/commits/main --jq .sha']);
      expect(calls.filter((c) => c.startsWith('curl ') && c.includes('https://api.render.com/deploy/'))).toHaveLength(hookCalls);
    });
  });

  it('dependabot keeps npm packages and GitHub Actions up to date', () => {
    const dependabot = parse(read('.github/dependabot.yml')) as Yaml;
    expect(dependabot.version).toBe(2);
    const updates = asArray(dependabot.updates).map(asRecord);
    for (const ecosystem of ['npm', 'github-actions']) {
      const update = updates.find((u) => u.package_ecosystem === ecosystem || u['package-ecosystem'] === ecosystem);
      expect([ecosystem, update?.directory, asRecord(update?.schedule).interval]).toEqual([ecosystem, '/', 'weekly']);
    }
  });
});

describe('apps/r2-fetch-worker/wrangler.toml', () => {
  const toml = read('apps/r2-fetch-worker/wrangler.toml');
  /** The [vars] table: `KEY = "value"` lines up to the next table. */
  const vars = (() => {
    const section = toml.slice(toml.indexOf('\n[vars]')).split(/\n\[(?!vars\])/)[0] ?? '';
    return Object.fromEntries([...section.matchAll(/^([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1]!, m[2]!]));
  })();

  it('leaves PUBLIC_BASE_URL unset and keeps a dashboard value across deploys', () => {
    expect(Object.keys(vars)).toEqual(expect.arrayContaining(['BUCKET_NAME', 'ALLOWED_HOSTS']));
    expect(vars.PUBLIC_BASE_URL).toBeUndefined();
    expect(toml).not.toMatch(/^\s*PUBLIC_BASE_URL\s*=/m);
    expect(toml).toMatch(/^keep_vars = true$/m);
  });

  it('a Worker deployed as shipped (its vars plus the token secret) says it is misconfigured', async () => {
    const mf = new Miniflare({
      modules: true,
      script: await bundleR2FetchWorker(),
      compatibilityDate: '2025-07-18',
      r2Buckets: ['BUCKET'],
      bindings: { ...vars, R2_FETCH_TOKEN: 'deploy-test-token' },
    });
    try {
      const res = await mf.dispatchFetch('http://worker.test/', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-r2-fetch-token': 'deploy-test-token' },
        body: JSON.stringify({
          source_url: 'https://www.dropbox.com/s/x/a.zip?dl=1',
          object_key: 'dropbox/a/b/a.zip',
          bucket: 'render-signal-offload',
        }),
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ success: false, error: 'misconfigured' });
    } finally {
      await mf.dispose();
    }
  }, 60_000);
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
