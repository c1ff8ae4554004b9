import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/**
 * The Standard Webhooks signing secret. A secret rotated from the dashboard is stored in Redis and wins
 * over env WEBHOOK_SECRET; workers re-read it at most every few seconds.
 */
export interface WebhookSecretStore {
  current(): Promise<string | undefined>;
  /** Generates, stores and returns a new `whsec_` secret (shown to the operator once). */
  rotate(): Promise<string>;
}

const CACHE_MS = 2_000;

export function createWebhookSecretStore(options: { redis: Redis | Cluster; prefix: string; envSecret?: string }): WebhookSecretStore {
  const key = `${options.prefix}:secrets:webhook_secret`;
  let cached: { value: string | undefined; at: number } | undefined;
  // One read at a time: the deliveries that find the cache stale together (dozens under load) share it.
  let reading: Promise<string | undefined> | undefined;
  /** Bumped by rotate: a read begun before it does not cache the old secret. */
  let generation = 0;
  return {
    async current() {
      if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
      const readFor = generation;
      reading ??= options.redis.get(key).then(
        (stored) => {
          const value = stored ?? options.envSecret;
          if (readFor === generation) {
            reading = undefined;
            cached = { value, at: Date.now() };
          }
          return value;
        },
        (error: unknown) => {
          if (readFor === generation) reading = undefined;
          throw error;
        },
      );
      return reading;
    },
    async rotate() {
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      await options.redis.set(key, secret);
      generation += 1;
      cached = undefined;
      reading = undefined;
      return secret;
    },
  };
}
