import { describe, expect, it } from '@jest/globals';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { createWebhookSecretStore } from './webhook-secret';

describe('webhook secret store (real Redis)', () => {
  const { redis, prefix } = useTestRedis('whsecret');

  it('falls back to env, shares one read among concurrent callers, and serves a rotated secret at once', async () => {
    const store = createWebhookSecretStore({ redis, prefix: `${prefix}:a`, envSecret: 'whsec_env' });
    const calls: string[] = [];
    const original = redis.get.bind(redis);
    redis.get = ((...args: Parameters<typeof redis.get>) => {
      calls.push(String(args[0]));
      return original(...args);
    }) as typeof redis.get;
    try {
      expect(await Promise.all(Array.from({ length: 20 }, () => store.current()))).toEqual(Array(20).fill('whsec_env'));
      expect(calls).toHaveLength(1);
      const rotated = await store.rotate();
      expect(rotated).toMatch(/^whsec_/);
      expect(await store.current()).toBe(rotated);
      expect(await createWebhookSecretStore({ redis, prefix: `${prefix}:a`, envSecret: 'whsec_env' }).current()).toBe(rotated);
    } finally {
      redis.get = original;
    }
  });
});
