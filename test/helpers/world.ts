import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster, Redis } from 'ioredis';
import { createApp } from '../../apps/api/src/app';
import type { AppDeps } from '../../apps/api/src/app-deps';
import { buildApiDeps } from '../../apps/api/src/deps';
import { startWorkers, type RunningWorkers } from '../../apps/worker/src/worker';
import { apiEnvSchema, loadEnv, workerEnvSchema, type ApiEnv, type WorkerEnv } from '@render-signal/config';
import { silentLogger, type Logger } from '@render-signal/observability';
import { createProducer, createRedisConnection, deliveryQueue, type emailQueue, type Producer } from '@render-signal/queue';
import { deleteKeys, testRedisUrl, uniquePrefix } from './test-redis';

export const TEST_TOKEN = 'test-ingress-token-123';
export const TEST_DASHBOARD_PASSWORD = 'test-dashboard-password';
export const TEST_WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export interface World {
  prefix: string;
  redisUrl: string;
  apiUrl: string;
  apiEnv: ApiEnv;
  workerEnv: WorkerEnv;
  apiRedis: Redis | Cluster;
  workerRedis: Redis | Cluster;
  emailProducer: Producer<typeof emailQueue>;
  /** The API's dependencies (settings store, webhook log…). */
  api: AppDeps;
  deliveryProducer: Producer<typeof deliveryQueue>;
  workers?: RunningWorkers;
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

export interface WorldOptions {
  env?: Record<string, string>;
  /** Start in-process workers (default true). */
  workers?: boolean;
  redisUrl?: string;
  logger?: Logger;
}

/** A fresh API + workers on a unique queue prefix against real Redis; `close()` removes every key it made. */
export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const redisUrl = options.redisUrl ?? testRedisUrl();
  const prefix = options.env?.QUEUE_PREFIX ?? uniquePrefix('w');
  const logger = options.logger ?? silentLogger;
  const raw = {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PROCESS_API_TOKEN: TEST_TOKEN,
    SECRET_KEY: 'test-secret-key-0123456789',
    TRIGGER_PAGE_PASSWORD: TEST_DASHBOARD_PASSWORD,
    ALLOW_PRIVATE_NETWORK: 'true',
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    DELIVERY_RETRY_SCHEDULE: '100ms,200ms,300ms',
    DELIVERY_RETRY_JITTER: '0',
    PORT: '0',
    ...options.env,
  };
  const apiEnv = loadEnv(apiEnvSchema, raw);
  const workerEnv = loadEnv(workerEnvSchema, raw);
  const apiRedis = createRedisConnection({ url: redisUrl, profile: 'producer', name: 'test-api', logger });
  const workerRedis = createRedisConnection({ url: redisUrl, profile: 'worker', name: 'test-worker', logger });
  await Promise.all([waitReady(apiRedis), waitReady(workerRedis)]);
  const resources = buildApiDeps(apiEnv, logger, apiRedis);
  await resources.start();
  const emailProducer = resources.deps.emailProducer;
  const deliveryProducer = createProducer(deliveryQueue, { connection: workerRedis, prefix });
  const app = createApp(resources.deps);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const workers = options.workers === false ? undefined : await startWorkers({ env: workerEnv, logger, redis: workerRedis });

  return {
    prefix,
    redisUrl,
    apiUrl,
    apiEnv,
    workerEnv,
    apiRedis,
    workerRedis,
    emailProducer,
    api: resources.deps,
    deliveryProducer,
    workers,
    async post(body, headers = {}) {
      const res = await fetch(`${apiUrl}/api/ingress/gmail`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    async close() {
      await workers?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      operatorSessions.delete(apiUrl);
      await resources.close();
      await deliveryProducer.close();
      await deleteKeys(redisUrl, prefix);
      apiRedis.disconnect();
      workerRedis.disconnect();
    },
  };
}

export async function waitReady(redis: Redis | Cluster, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (redis.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`redis connection not ready (${redis.status})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let counter = 0;
/** A distinct, valid ingress payload. */
export function sampleEmail(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    subject: `Test email ${counter} ${Date.now()}`,
    sender: 'Alice Example <alice@example.org>',
    date: new Date().toISOString(),
    body: '<p>Voici le lien : https://www.dropbox.com/scl/fo/abc123/file.zip?dl=0</p>',
    snippet: 'Voici le lien',
    ...overrides,
  };
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, label = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Session cookies per API, so each world logs in once (successful logins are not rate-limited). */
const operatorSessions = new Map<string, { cookie: string; csrf: string }>();

async function operatorSession(apiUrl: string): Promise<{ cookie: string; csrf: string }> {
  const cached = operatorSessions.get(apiUrl);
  if (cached) return cached;
  const res = await fetch(`${apiUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ password: TEST_DASHBOARD_PASSWORD }).toString(),
  });
  const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const csrf = cookies.find((c) => c.startsWith('rs_csrf='))?.slice('rs_csrf='.length);
  if (!csrf || !cookies.some((c) => c.startsWith('rs_session='))) throw new Error(`operator login failed (HTTP ${res.status})`);
  const session = { cookie: cookies.join('; '), csrf };
  operatorSessions.set(apiUrl, session);
  return session;
}

/**
 * Calls the operator (dashboard) JSON API as a logged-in operator (session cookie + CSRF header), the
 * way the dashboard does. Tests go through this one helper so operator authentication is defined once.
 */
export async function operatorRequest(
  world: Pick<World, 'apiUrl'>,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const session = await operatorSession(world.apiUrl);
  const res = await fetch(`${world.apiUrl}${path}`, {
    method,
    headers: {
      cookie: session.cookie,
      'x-csrf-token': session.csrf,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}
