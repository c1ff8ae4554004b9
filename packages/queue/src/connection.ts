import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '@render-signal/observability';

/**
 * Two connection profiles, one factory:
 * - `producer` (API): fails fast. With no offline queue a command issued while Redis is unreachable
 *   rejects at once, so the ingress answers 503 and the sender retries instead of hanging.
 * - `worker`: retries forever (BullMQ requires maxRetriesPerRequest: null for blocking commands), so
 *   workers ride out a Redis restart and resume by themselves.
 */
export type ConnectionProfile = 'producer' | 'worker';

export interface ConnectionOptions {
  url: string;
  profile: ConnectionProfile;
  /** Shown in CLIENT LIST, helps when debugging a shared Redis. */
  name: string;
  logger: Logger;
}

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

export function createRedisConnection(options: ConnectionOptions): Redis {
  const redis = new Redis(options.url, { ...redisOptionsFor(options.profile), connectionName: options.name });
  attachConnectionLogging(redis, options);
  return redis;
}

/** Logs state changes once (ioredis emits `error` on every reconnect attempt; that would flood the logs). */
function attachConnectionLogging(redis: Redis, options: ConnectionOptions): void {
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
}

/** True when the connection can take commands right now (used to answer 503 without waiting). */
export function isRedisReady(redis: Redis): boolean {
  return redis.status === 'ready';
}
