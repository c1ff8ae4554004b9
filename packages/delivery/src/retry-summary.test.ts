import { describe, expect, it } from '@jest/globals';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { effectiveRetrySchedule, publishRetryPolicy, readRetryPolicy } from './retry-summary';

describe('effectiveRetrySchedule', () => {
  const policy = { schedule: [5_000, 300_000, 1_800_000], jitter: 0.2 };
  it.each([
    ['the schedule alone', { retry_count: 0, retry_delay_sec: 2 }, 4, [5_000, 300_000, 1_800_000], 'DELIVERY_RETRY_SCHEDULE', null],
    ['retry_count bounds it', { retry_count: 1, retry_delay_sec: 2 }, 2, [5_000], 'processing_prefs.retry_count', 2_000],
    [
      'the last delay repeats',
      { retry_count: 5, retry_delay_sec: 0 },
      6,
      [5_000, 300_000, 1_800_000, 1_800_000, 1_800_000],
      'processing_prefs.retry_count',
      0,
    ],
    ['retry_delay_sec is a floor', { retry_count: 2, retry_delay_sec: 60 }, 3, [60_000, 300_000], 'processing_prefs.retry_count', 60_000],
  ])('%s', (_label, prefs, attempts, delays, from, floor) => {
    expect(effectiveRetrySchedule(policy, prefs)).toEqual({
      attempts,
      delays_ms: delays,
      jitter: 0.2,
      attempts_from: from,
      floor_ms: floor,
    });
  });
});

describe('published retry policy', () => {
  const { redis, prefix } = useTestRedis('retry-policy');
  it('round-trips and refuses a value that is not a policy', async () => {
    expect(await readRetryPolicy(redis, prefix)).toBeNull();
    await publishRetryPolicy(redis, prefix, { schedule: [100, 200], jitter: 0.1, maxRetryAfterMs: 1_000 }, 42);
    expect(await readRetryPolicy(redis, prefix)).toEqual({ schedule: [100, 200], jitter: 0.1, maxRetryAfterMs: 1_000, published_at: 42 });
    await redis.set(`${prefix}:delivery:retry_policy`, '{"schedule":"soon"}');
    expect(await readRetryPolicy(redis, prefix)).toBeNull();
  });
});
