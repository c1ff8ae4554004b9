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
  return {
    async current() {
      if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
      const stored = await options.redis.get(key);
      cached = { value: stored ?? options.envSecret, at: Date.now() };
      return cached.value;
    },
    async rotate() {
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      await options.redis.set(key, secret);
      cached = undefined;
      return secret;
    },
  };
}
