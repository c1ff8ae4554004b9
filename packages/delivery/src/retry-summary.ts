import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import type { RetryPolicy } from './retry-schedule';

/**
 * The retry schedule in effect, for people: the workers publish the policy they run with (env
 * DELIVERY_RETRY_SCHEDULE…) and the dashboard shows it next to processing_prefs, which may bound it.
 */

const retryPolicySchema = z.object({
  schedule: z.array(z.number().int().min(0)),
  jitter: z.number().min(0).max(1),
  maxRetryAfterMs: z.number().int().min(0),
  published_at: z.number().int(),
});

const policyKey = (prefix: string) => `${prefix}:delivery:retry_policy`;

export async function publishRetryPolicy(redis: Redis | Cluster, prefix: string, policy: RetryPolicy, now = Date.now()): Promise<void> {
  await redis.set(policyKey(prefix), JSON.stringify({ ...policy, published_at: now }));
}

/** The policy the workers last published (null when none did, or the stored value is not one). */
export async function readRetryPolicy(redis: Redis | Cluster, prefix: string): Promise<(RetryPolicy & { published_at: number }) | null> {
  const raw = await redis.get(policyKey(prefix));
  if (!raw) return null;
  try {
    const parsed = retryPolicySchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export interface EffectiveRetrySchedule {
  /** Attempts in all (the first + retries). */
  attempts: number;
  /** Delay before each retry, before jitter (ms). */
  delays_ms: number[];
  jitter: number;
  /** Which setting decides the number of attempts. */
  attempts_from: 'processing_prefs.retry_count' | 'DELIVERY_RETRY_SCHEDULE';
  /** processing_prefs.retry_delay_sec as the minimum delay (ms), when retry_count bounds the schedule. */
  floor_ms: number | null;
}

/**
 * Mirrors the workers: retry_count > 0 sets the number of retries (the schedule's last delay repeats past its
 * end) and retry_delay_sec becomes the minimum delay; otherwise the schedule alone decides.
 */
export function effectiveRetrySchedule(
  policy: Pick<RetryPolicy, 'schedule' | 'jitter'>,
  prefs: { retry_count: number; retry_delay_sec: number },
): EffectiveRetrySchedule {
  const bounded = prefs.retry_count > 0;
  const retries = bounded ? prefs.retry_count : policy.schedule.length;
  const floor = bounded ? prefs.retry_delay_sec * 1000 : 0;
  const delays = Array.from({ length: retries }, (_, i) => {
    const base = policy.schedule[Math.min(i + 1, policy.schedule.length) - 1] ?? 0;
    return Math.max(base, floor);
  });
  return {
    attempts: retries + 1,
    delays_ms: delays,
    jitter: policy.jitter,
    attempts_from: bounded ? 'processing_prefs.retry_count' : 'DELIVERY_RETRY_SCHEDULE',
    floor_ms: bounded ? floor : null,
  };
}
