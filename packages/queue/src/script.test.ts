import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { redisScript } from './script';

describe('redisScript (real Redis)', () => {
  const { redis, prefix } = useTestRedis('script');

  it('loads an unknown script once (NOSCRIPT → EVAL), then runs it by its SHA1', async () => {
    // A body no server has seen: the first run must take the NOSCRIPT path.
    const script = redisScript(`-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`);
    expect(await redis.script('EXISTS', script.sha)).toEqual([0]);
    expect(await script.run(redis, [`${prefix}:n`], [2])).toBe(2);
    expect(await redis.script('EXISTS', script.sha)).toEqual([1]);
    expect(await script.run(redis, [`${prefix}:n`], ['3'])).toBe(5);
  });

  it("passes the script's own errors through", async () => {
    const script = redisScript(`-- ${randomUUID()}\nreturn redis.error_reply('BAD input')`);
    await expect(script.run(redis, [`${prefix}:x`], [])).rejects.toThrow('BAD input');
    await expect(script.run(redis, [`${prefix}:x`], [])).rejects.toThrow('BAD input');
  });
});
