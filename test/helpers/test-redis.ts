import { afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** URL of the Redis shared by the suites (see global-setup). */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through jest (global-setup)');
  return url;
}

/** A key/queue prefix unique to one test, so suites can share a Redis (CI does). */
export function uniquePrefix(label = 't'): string {
  return `rs-test-${label}-${randomBytes(5).toString('hex')}`;
}

/** Deletes every key under a prefix (SCAN, never FLUSH: the server is shared). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * For a describe block: a connection to the shared test Redis and a key prefix of its own, both cleaned
 * up after the block (keys deleted by prefix, connection closed).
 */
export function useTestRedis(label: string): { redis: Redis; redisUrl: string; prefix: string } {
  const redisUrl = testRedisUrl();
  const prefix = uniquePrefix(label);
  const redis = new Redis(redisUrl);
  afterAll(async () => {
    await deleteKeys(redisUrl, prefix);
    redis.disconnect();
  });
  return { redis, redisUrl, prefix };
}
