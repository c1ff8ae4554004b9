import { describe, expect, it } from '@jest/globals';
import {
  hourHashSchema,
  hourOf,
  hourRange,
  hourStats,
  latencyBucket,
  LATENCY_BUCKETS,
  percentile,
  statsIncrements,
  totalStats,
  HOUR_MS,
} from './stats';
import { attemptEvent } from './build';

describe('latency histogram', () => {
  it('puts a latency in a bucket whose upper bound is within 25 % above it', () => {
    for (const ms of [2, 10, 99, 250, 1_000, 15_000, 3_600_000]) {
      const upper = Math.pow(1.25, latencyBucket(ms));
      expect(upper).toBeGreaterThanOrEqual(ms);
      expect(upper).toBeLessThan(ms * 1.25 + 1);
    }
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(1e12)).toBe(LATENCY_BUCKETS - 1);
  });

  it('reads p50 and p95 within the bucket width', () => {
    const histogram = new Array<number>(LATENCY_BUCKETS).fill(0);
    const samples = Array.from({ length: 100 }, (_, i) => (i < 95 ? 100 : 2_000));
    for (const s of samples) histogram[latencyBucket(s)]! += 1;
    expect(percentile(histogram, 0.5)).toBeGreaterThan(80);
    expect(percentile(histogram, 0.5)).toBeLessThanOrEqual(125);
    expect(percentile(histogram, 0.99)).toBeGreaterThan(1_600);
    expect(percentile(new Array<number>(LATENCY_BUCKETS).fill(0), 0.5)).toBeNull();
  });
});

describe('statsIncrements', () => {
  const base = { webhookId: 'w', jobId: 'w', attempt: 1, maxAttempts: 3, status: 200, durationMs: 5, now: 10 * HOUR_MS + 5 };
  it.each([
    ['delivered', { ...base, outcome: 'delivered' as const, endToEndMs: 120 }, ['delivered', `l${latencyBucket(120)}`]],
    ['retrying', { ...base, outcome: 'retrying' as const }, ['retries']],
    ['failed', { ...base, outcome: 'failed' as const }, ['failed']],
    ['re-delivered (no latency)', { ...base, jobId: 'w.r1', outcome: 'delivered' as const, endToEndMs: 120 }, ['delivered']],
  ])('%s', (_label, input, fields) => {
    const { increments } = statsIncrements(attemptEvent(input));
    expect(increments.map((i) => i.field)).toEqual(fields);
    expect(increments.every((i) => i.hour === 10 * HOUR_MS)).toBe(true);
  });
  it('counts a received email in the hour it was accepted', () => {
    const out = statsIncrements({
      type: 'received',
      at: 5 * HOUR_MS,
      accepted_at: 4 * HOUR_MS + 1,
      source: 'apps_script',
      job_id: null,
      subject: '',
      sender: '',
    });
    expect(out.increments).toEqual([{ hour: 4 * HOUR_MS, field: 'received', by: 1 }]);
    expect(out.last).toEqual({ field: 'received', at: 4 * HOUR_MS + 1 });
  });
});

describe('hour figures', () => {
  it('reads known counters only, skipped includes filtered', () => {
    const figures = hourHashSchema.parse({
      received: '4',
      delivered: '3',
      filtered: '1',
      skipped: '2',
      l10: '3',
      bogus: '9',
      failed: '-1',
    });
    const stats = hourStats(0, figures);
    expect(stats).toMatchObject({ received: 4, delivered: 3, failed: 0, skipped: 3, filtered: 1 });
    expect(stats.p50_ms).toBeGreaterThan(Math.pow(1.25, 9));
    expect(totalStats([figures, figures])).toMatchObject({ received: 8, skipped: 6 });
  });
  it('lists the hours ending with the current one, oldest first', () => {
    const now = 100 * HOUR_MS + 123;
    expect(hourRange(3, now)).toEqual([98 * HOUR_MS, 99 * HOUR_MS, 100 * HOUR_MS]);
    expect(hourOf(now)).toBe(100 * HOUR_MS);
  });
});
