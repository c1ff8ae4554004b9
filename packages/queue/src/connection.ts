import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ClusterSeed } from '@render-signal/config';
import type { Logger } from '@render-signal/observability';

/** A connection to the shared Redis: one node (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES). */
export type RedisClient = Redis | Cluster;

/** Where Redis is: the cluster's seed nodes when set (they win), else the single node's URL. */
export type RedisTarget = { url: string } | { clusterNodes: readonly ClusterSeed[] };

/** From the parsed env (loadEnv guarantees one of the two is set). */
export function redisTargetOf(env: {
  REDIS_URL?: string | undefined;
  REDIS_CLUSTER_NODES?: readonly ClusterSeed[] | undefined;
}): RedisTarget {
  if (env.REDIS_CLUSTER_NODES) return { clusterNodes: env.REDIS_CLUSTER_NODES };
  if (!env.REDIS_URL) throw new Error('REDIS_URL or REDIS_CLUSTER_NODES is required');
  return { url: env.REDIS_URL };
}

/**
 * Two connection profiles, one factory:
 * - `producer` (API): fails fast. With no offline queue a command issued while Redis is unreachable
 *   rejects at once, so the ingress answers 503 and the sender retries instead of hanging.
 * - `worker`: retries forever (BullMQ requires maxRetriesPerRequest: null for blocking commands), so
 *   workers ride out a Redis restart and resume by themselves.
 */
export type ConnectionProfile = 'producer' | 'worker';

export type ConnectionOptions = RedisTarget & {
  profile: ConnectionProfile;
  /** Shown in CLIENT LIST, helps when debugging a shared Redis. */
  name: string;
  logger: Logger;
};

/** Reconnect backoff: 100 ms, 200 ms, … capped at 2 s, forever. */
const reconnectDelay = (attempt: number) => Math.min(attempt * 100, 2_000);

export function redisOptionsFor(profile: ConnectionProfile): RedisOptions {
  const common: RedisOptions = {
    retryStrategy: reconnectDelay,
    // A dead TCP peer (Redis host gone without RST) is noticed within ~10 s instead of minutes.
    keepAlive: 10_000,
    connectTimeout: 5_000,
  };
  if (profile === 'producer') {
    return { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 };
  }
  return { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null };
}

/**
 * Cluster mode: the same two profiles, per node. A node that goes away is reconnected with the same backoff
 * (ioredis's default drops it and waits for a MOVED): a master restarting on its address (no replica to fail
 * over to) gets its commands back as they were, queued on the worker profile as with one node, failing fast on
 * the producer profile (the API answers 503). MOVED/ASK redirections and slot refreshes are ioredis's; a slot
 * answering CLUSTERDOWN is retried every 300 ms up to ioredis's redirection limit. TLS seeds (`rediss://`) keep
 * the node's address for the certificate check (managed clusters announce IPs but certify names).
 */
export function clusterOptionsFor(profile: ConnectionProfile, seeds: readonly ClusterSeed[], name: string): ClusterOptions {
  const { retryStrategy: _retry, ...node } = redisOptionsFor(profile);
  const auth = seeds.find((s) => s.password !== undefined || s.username !== undefined);
  const tls = seeds.some((s) => s.tls);
  return {
    redisOptions: {
      ...node,
      connectionName: name,
      ...(auth?.username ? { username: auth.username } : {}),
      ...(auth?.password ? { password: auth.password } : {}),
      ...(tls ? { tls: {} } : {}),
    },
    enableOfflineQueue: profile === 'worker',
    clusterRetryStrategy: reconnectDelay,
    clusterNodeRetryStrategy: reconnectDelay,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    retryDelayOnFailover: 200,
    ...(tls ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) } : {}),
  };
}

export function createRedisConnection(options: ConnectionOptions): RedisClient {
  const redis =
    'clusterNodes' in options
      ? new Cluster(
          options.clusterNodes.map((s) => ({ host: s.host, port: s.port })),
          clusterOptionsFor(options.profile, options.clusterNodes, options.name),
        )
      : new Redis(options.url, { ...redisOptionsFor(options.profile), connectionName: options.name });
  attachConnectionLogging(redis, options);
  return redis;
}

/**
 * Logs state changes once (ioredis emits `error` on every reconnect attempt; that would flood the logs). In cluster
 * mode a node that goes away leaves the cluster connection `ready` (its other nodes serve on): each node's outage and
 * recovery is logged on its own, with the node's address.
 */
function attachConnectionLogging(redis: RedisClient, options: ConnectionOptions): void {
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    options.logger.warn('redis.unavailable', { connection: options.name, profile: options.profile, error: error.message });
  });
  redis.on('ready', () => {
    if (down) options.logger.info('redis.recovered', { connection: options.name });
    down = false;
  });
  if (redis instanceof Cluster) {
    const downNodes = new Set<string>();
    redis.on('node error', (error: Error, node: string) => {
      if (downNodes.has(node)) return;
      downNodes.add(node);
      options.logger.warn('redis.unavailable', { connection: options.name, profile: options.profile, node, error: error.message });
    });
    redis.on('+node', (client: Redis) => {
      const node = `${client.options.host}:${client.options.port}`;
      client.on('ready', () => {
        if (downNodes.delete(node)) options.logger.info('redis.recovered', { connection: options.name, node });
      });
    });
  }
}

/** True when the connection can take commands right now (used to answer 503 without waiting). */
export function isRedisReady(redis: RedisClient): boolean {
  return redis.status === 'ready';
}

/** Another connection to the same Redis (a pub/sub subscriber needs its own), single node or cluster alike. */
export function duplicateConnection(redis: RedisClient, overrides: { connectionName: string; enableOfflineQueue?: boolean }): RedisClient {
  if (redis instanceof Cluster) {
    return redis.duplicate(undefined, {
      redisOptions: { ...redis.options.redisOptions, connectionName: overrides.connectionName },
      ...(overrides.enableOfflineQueue !== undefined ? { enableOfflineQueue: overrides.enableOfflineQueue } : {}),
    });
  }
  return redis.duplicate(overrides);
}
