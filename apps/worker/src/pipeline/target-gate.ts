import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type Admission = { admitted: true } | { admitted: false; reason: 'target_busy' | 'rate_limited'; waitMs: number };

/**
 * Per-target admission for deliveries:
 * - at most `perTargetConcurrency` requests in flight to one host from this process, so one slow target
 *   cannot occupy every worker slot (others keep flowing);
 * - `rate_limit_per_hour` per target URL across all workers (a Redis sliding window): over the limit a
 *   delivery is delayed until a slot frees, never dropped.
 */
export interface TargetGate {
  /** `canWait` false (no job token): admit regardless, so the caller never loses the job. */
  admit(url: string, canWait?: boolean): Promise<Admission>;
  release(url: string): void;
}

export interface TargetGateOptions {
  perTargetConcurrency: number;
  redis: Redis;
  prefix: string;
  /** Current processing_prefs.rate_limit_per_hour (0 = unlimited), read live. */
  rateLimitPerHour(): Promise<number>;
  random?: () => number;
}

const HOUR_MS = 3_600_000;
/** Busy-host retry: short, jittered, so waiting jobs do not return in lockstep. */
const BUSY_WAIT_MS = 100;

// KEYS[1] window zset; ARGV: now, limit, member. Returns 0 when admitted, else ms to wait.
const SLIDING_WINDOW = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - ${HOUR_MS})
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ${HOUR_MS + 300_000})
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + ${HOUR_MS} - tonumber(ARGV[1]))
`;

export function createTargetGate(options: TargetGateOptions): TargetGate {
  const inFlight = new Map<string, number>();
  const random = options.random ?? Math.random;
  const hostOf = (url: string) => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  };
  const acquire = (host: string) => inFlight.set(host, (inFlight.get(host) ?? 0) + 1);
  return {
    async admit(url, canWait = true) {
      const host = hostOf(url);
      if (!canWait) {
        acquire(host);
        return { admitted: true };
      }
      if ((inFlight.get(host) ?? 0) >= options.perTargetConcurrency) {
        return { admitted: false, reason: 'target_busy', waitMs: Math.round(BUSY_WAIT_MS * (0.5 + random())) };
      }
      const limit = await options.rateLimitPerHour();
      if (limit > 0) {
        const key = `${options.prefix}:ratelimit:${createHash('sha256').update(url).digest('hex').slice(0, 24)}`;
        const now = Date.now();
        const wait = Number(await options.redis.eval(SLIDING_WINDOW, 1, key, now, limit, `${now}-${random().toString(36).slice(2)}`));
        if (wait > 0) return { admitted: false, reason: 'rate_limited', waitMs: wait };
      }
      acquire(host);
      return { admitted: true };
    },
    release(url) {
      const host = hostOf(url);
      const count = (inFlight.get(host) ?? 1) - 1;
      if (count <= 0) inFlight.delete(host);
      else inFlight.set(host, count);
    },
  };
}
