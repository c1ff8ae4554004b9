import { describe, expect, it } from '@jest/globals';
import { PermanentDeliveryError, RetryableDeliveryError } from './errors';
import { attemptsFor, nextRetryDelay, retryDelayAfter, retryForPrefs, type RetryPolicy } from './retry-schedule';

const policy: RetryPolicy = { schedule: [5_000, 30_000, 120_000], jitter: 0, maxRetryAfterMs: 3_600_000 };
const jittered: RetryPolicy = { ...policy, jitter: 0.2 };

describe('nextRetryDelay', () => {
  it.each<[string, number, RetryPolicy, number | undefined, number, number]>([
    // name, attemptsMade, policy, Retry-After, random(), expected
    ['after the first failure: schedule[0]', 1, policy, undefined, 0.5, 5_000],
    ['after the second: schedule[1]', 2, policy, undefined, 0.5, 30_000],
    ['after the third: schedule[2]', 3, policy, undefined, 0.5, 120_000],
    ['past the schedule: its last delay again', 7, policy, undefined, 0.5, 120_000],
    ['jitter, lowest draw: d·(1−j)', 1, jittered, undefined, 0, 4_000],
    ['jitter, middle draw: d', 1, jittered, undefined, 0.5, 5_000],
    ['jitter, highest draw: d·(1+j)', 2, jittered, undefined, 1, 36_000],
    ['Retry-After wins over the schedule', 1, policy, 90_000, 0.5, 90_000],
    ['Retry-After wins over jitter too', 3, jittered, 1_000, 0, 1_000],
    ['Retry-After 0: retry at once', 2, policy, 0, 0.5, 0],
    ['negative Retry-After (date in the past): 0', 2, policy, -5_000, 0.5, 0],
    ['Retry-After past the cap: the cap', 1, policy, 86_400_000, 0.5, 3_600_000],
    ['empty schedule: no delay', 1, { schedule: [], jitter: 0.5, maxRetryAfterMs: 1 }, undefined, 1, 0],
  ])('%s', (_name, attemptsMade, p, retryAfter, draw, expected) => {
    expect(nextRetryDelay(attemptsMade, p, retryAfter, () => draw)).toBe(expected);
  });

  it('jittered delays stay within [d·(1−j), d·(1+j)] and spread', () => {
    const delays = Array.from({ length: 500 }, () => nextRetryDelay(2, jittered));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(24_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(36_000);
    expect(new Set(delays).size).toBeGreaterThan(100);
  });
});

describe('retryForPrefs (processing_prefs over the schedule)', () => {
  it.each([
    ['retry_count 0: the schedule decides', { retry_count: 0, retry_delay_sec: 60 }, { attempts: 4 }],
    ['retry_count 2: three attempts, retry_delay_sec as floor', { retry_count: 2, retry_delay_sec: 60 }, { attempts: 3, floorMs: 60_000 }],
    ['retry_count 1, no delay', { retry_count: 1, retry_delay_sec: 0 }, { attempts: 2, floorMs: 0 }],
  ])('%s', (_name, prefs, expected) => {
    expect(retryForPrefs(prefs, policy)).toEqual(expected);
  });

  it('attemptsFor: first attempt plus one per scheduled retry', () => {
    expect(attemptsFor(policy)).toBe(4);
  });
});

describe('retryDelayAfter (the delivery queue backoff)', () => {
  const retryable = (retry_after_ms?: number) =>
    new RetryableDeliveryError({
      failure_reason: 'rate_limited',
      status: 429,
      duration_ms: 3,
      ...(retry_after_ms !== undefined ? { retry_after_ms } : {}),
    });
  it.each<[string, number, unknown, number | undefined, number]>([
    ['schedule delay', 1, retryable(), undefined, 5_000],
    ["the target's Retry-After", 1, retryable(12_000), undefined, 12_000],
    ['floor above the schedule', 1, retryable(), 60_000, 60_000],
    ['floor above Retry-After', 2, retryable(1_000), 10_000, 10_000],
    ['schedule above the floor', 3, retryable(), 60_000, 120_000],
    ['other errors: the schedule', 2, new Error('socket hang up'), undefined, 30_000],
    [
      'Retry-After is only read from retryable failures',
      1,
      new PermanentDeliveryError({ failure_reason: 'upstream_client_error', duration_ms: 1, retry_after_ms: 9 }),
      undefined,
      5_000,
    ],
  ])('%s', (_name, attemptsMade, error, floor, expected) => {
    expect(retryDelayAfter(attemptsMade, policy, error, floor, () => 0.5)).toBe(expected);
  });
});
