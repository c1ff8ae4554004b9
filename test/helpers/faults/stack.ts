import { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { silentLogger } from '@render-signal/observability';
import { createRedisConnection, deliveryQueue, emailQueue } from '@render-signal/queue';
import { spawnApp, type AppProcess } from '../processes';
import { startRedisCluster, type OwnCluster } from '../redis-cluster';
import { freePort, removeRedisDir, startRedisServer, type OwnRedis } from '../redis-server';
import { uniquePrefix } from '../test-redis';
import { TEST_TOKEN, TEST_WEBHOOK_SECRET } from '../world';

/** The operator password the fault suite's API processes accept (see operator-session.ts). */
export const FAULT_OPERATOR_PASSWORD = 'fault-suite-operator-password';

/**
 * Settings every fault-suite process shares. Numbers are shortened so faults resolve in seconds:
 * - JOB_LOCK_DURATION 2s: a killed worker's jobs are recovered within ~4 s, yet a live worker on a
 *   loaded 2-core machine still renews its lock in time (1 s made live jobs look stalled under load);
 * - DELIVERY_RETRY_SCHEDULE ~11 s in total, jitter 0, so "within the schedule" is a fixed bound.
 */
export function baseEnv(redisUrl: string, prefix: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PROCESS_API_TOKEN: TEST_TOKEN,
    SECRET_KEY: 'fault-suite-secret-key-0123456789',
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    TRIGGER_PAGE_PASSWORD: FAULT_OPERATOR_PASSWORD,
    ALLOW_PRIVATE_NETWORK: 'true',
    JOB_LOCK_DURATION: '2s',
    DELIVERY_RETRY_SCHEDULE: '250ms,500ms,1s,2s,2s,2s,2s,2s',
    DELIVERY_RETRY_JITTER: '0',
    SHUTDOWN_TIMEOUT: '15s',
    LOG_LEVEL: 'info',
  };
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  prioritized: number;
  'waiting-children': number;
  completed: number;
  failed: number;
}

export interface FaultStack {
  /** The Redis: on a cluster, the master serving the stack's (hash-tagged) prefix. */
  redis: OwnRedis;
  /** Set when the stack runs on a local Redis Cluster (`cluster: true`). */
  cluster?: OwnCluster;
  prefix: string;
  /** The environment every process of this stack gets (before per-process overrides). */
  env: Record<string, string>;
  apiUrl: string;
  api: AppProcess;
  /** Every worker process started so far (killed ones included), in start order. */
  workers: AppProcess[];
  /** Read-only handles for counting and inspecting jobs (a connection that rides out Redis restarts). */
  queues: { email: Queue; delivery: Queue };
  /** Starts one more worker process and waits until it logged `worker.started`. */
  startWorker(env?: Record<string, string>): Promise<AppProcess>;
  counts(queue: 'email' | 'delivery'): Promise<QueueCounts>;
  /** True when neither queue holds a job that could still produce a delivery. */
  isIdle(): Promise<boolean>;
  close(): Promise<void>;
}

export interface FaultStackOptions {
  /** Overrides for every process (e.g. WEBHOOK_URL, ALLOW_PRIVATE_NETWORK). */
  env?: Record<string, string>;
  /** Per-worker overrides; one worker process is started per entry (default: one worker). */
  workers?: Array<Record<string, string>>;
  /** Names of the shortened settings above to leave out, so the processes run with the shipped defaults. */
  unset?: string[];
  /**
   * Run on a local 3-master Redis Cluster (AOF always) instead of one redis-server: every process gets
   * REDIS_CLUSTER_NODES and a hash-tagged QUEUE_PREFIX (`{fault-…}`), and no REDIS_URL.
   */
  cluster?: boolean;
}

const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

/**
 * A private redis-server (AOF, appendfsync always) and the real API and worker processes (tsx from source)
 * on a fresh queue prefix. Waits until the API answers /readyz, so the first POST is not a startup 503.
 */
export async function startFaultStack(options: FaultStackOptions = {}): Promise<FaultStack> {
  const cluster = options.cluster ? await startRedisCluster({ aof: true }) : undefined;
  const prefix = cluster ? `{${uniquePrefix('fault')}}` : uniquePrefix('fault');
  const redis = cluster ? await cluster.masterFor(prefix) : await startRedisServer({ aof: true });
  const { REDIS_URL: _url, ...clusterEnv } = baseEnv(redis.url, prefix);
  const env: Record<string, string> = cluster
    ? { ...clusterEnv, REDIS_CLUSTER_NODES: cluster.seeds, ...options.env }
    : { ...baseEnv(redis.url, prefix), ...options.env };
  for (const name of options.unset ?? []) delete env[name];
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const api = spawnApp('api', { ...env, PORT: String(port) });
  const workers: AppProcess[] = [];
  const inspector: Redis | Cluster = createRedisConnection({
    ...(cluster ? { clusterNodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port, tls: false })) } : { url: redis.url }),
    profile: 'worker',
    name: 'fault-suite-inspector',
    logger: silentLogger,
  });
  const queues = {
    email: new Queue(emailQueue.name, { connection: inspector, prefix }),
    delivery: new Queue(deliveryQueue.name, { connection: inspector, prefix }),
  };
  queues.email.on('error', () => {});
  queues.delivery.on('error', () => {});

  const startWorker = async (overrides: Record<string, string> = {}) => {
    const worker = spawnApp('worker', { ...env, ...overrides });
    workers.push(worker);
    await worker.waitForEvent('worker.started', 60_000);
    return worker;
  };
  const counts = async (queue: 'email' | 'delivery') => (await queues[queue].getJobCounts(...JOB_STATES)) as unknown as QueueCounts;

  const stack: FaultStack = {
    redis,
    ...(cluster ? { cluster } : {}),
    prefix,
    env,
    apiUrl,
    api,
    workers,
    queues,
    startWorker,
    counts,
    async isIdle() {
      for (const queue of ['email', 'delivery'] as const) {
        const c = await counts(queue);
        if (c.waiting + c.active + c.delayed + c.prioritized + c['waiting-children'] > 0) return false;
      }
      return true;
    },
    async close() {
      await Promise.all([api, ...workers].map((p) => p.kill('SIGKILL')));
      await Promise.all([queues.email.close(), queues.delivery.close()]).catch(() => {});
      inspector.disconnect();
      if (cluster) await cluster.close();
      else await removeRedisDir(redis);
    },
  };
  try {
    await Promise.all([api.waitForEvent('api.started', 60_000), ...(options.workers ?? [{}]).map((w) => startWorker(w))]);
    await waitFor(async () => (await fetch(`${apiUrl}/readyz`).catch(() => undefined))?.status === 200, 30_000, 'API /readyz');
  } catch (error) {
    await stack.close();
    throw error;
  }
  return stack;
}

/** Polls a condition every `intervalMs` until it holds; throws with the label after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, label: string, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
