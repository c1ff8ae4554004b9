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
