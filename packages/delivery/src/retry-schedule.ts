import { z } from 'zod';
import { RetryableDeliveryError } from './errors';

export interface RetryPolicy {
  /** Delay before retry n (ms): schedule[0] after the first failure, etc. */
  schedule: number[];
  /** Relative spread 0..1: a delay d becomes uniform in [d·(1−j), d·(1+j)]. */
  jitter: number;
  /** Longest Retry-After honoured (ms). */
  maxRetryAfterMs: number;
}

/** Total attempts a delivery gets: the first one plus one per scheduled retry. */
export function attemptsFor(policy: RetryPolicy): number {
  return policy.schedule.length + 1;
}

/**
 * Delay before the next attempt after `attemptsMade` failed ones. A target's Retry-After wins over the
 * schedule (bounded), because it knows when it will accept again.
 */
export function nextRetryDelay(
  attemptsMade: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 0), policy.maxRetryAfterMs);
  const base = policy.schedule[Math.min(attemptsMade, policy.schedule.length) - 1] ?? policy.schedule.at(-1) ?? 0;
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

/** Attempts and retry floor of one email's deliveries, fixed when the email is planned (saved with its jobs). */
export const deliveryRetrySchema = z.object({
  attempts: z.number().int().min(1),
  floorMs: z.number().int().min(0).optional(),
});
export type DeliveryRetry = z.infer<typeof deliveryRetrySchema>;

/**
 * The operator's processing_prefs over the schedule: `retry_count` > 0 bounds the attempts (first + retries)
 * and `retry_delay_sec` becomes the shortest delay between two; 0 keeps the schedule's own length.
 */
export function retryForPrefs(prefs: { retry_count: number; retry_delay_sec: number }, policy: RetryPolicy): DeliveryRetry {
  return prefs.retry_count > 0
    ? { attempts: prefs.retry_count + 1, floorMs: prefs.retry_delay_sec * 1000 }
    : { attempts: attemptsFor(policy) };
}

/**
 * The delay BullMQ waits before retrying a failed delivery job (its `backoffStrategy`): the schedule or the
 * target's Retry-After, never under the email's retry floor.
 */
export function retryDelayAfter(
  attemptsMade: number,
  policy: RetryPolicy,
  error: unknown,
  floorMs = 0,
  random: () => number = Math.random,
): number {
  const retryAfter = error instanceof RetryableDeliveryError ? error.facts.retry_after_ms : undefined;
  return Math.max(nextRetryDelay(attemptsMade, policy, retryAfter, random), floorMs);
}
