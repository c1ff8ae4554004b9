import { createHash, randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { redisScript } from '@render-signal/queue';
import { hostOf } from './delivery-attempt';

export type Admission = { admitted: true } | { admitted: false; reason: 'target_busy' | 'rate_limited'; waitMs: number };

/**
 * Why the gate sent an email to a delivery job instead of its fast path (`rs_fast_path_fallback_total{reason}`):
 * every fast-path slot taken, the host answering slower than FAST_PATH_MAX_ANSWER_MS, the host at its cap for
 * longer than the fast path waits, or the hourly rate window full.
 */
export type FastPathRefusal = 'fast_slots_full' | 'target_slow' | 'target_busy' | 'rate_limited' | 'target_unhealthy';
export type FastAdmission = { admitted: true } | { admitted: false; reason: FastPathRefusal };

/**
 * Per-target admission for deliveries:
 * - at most `perTargetConcurrency` requests in flight to one host from this process, so one slow target
 *   cannot occupy every worker slot (others keep flowing). A job finding its host full waits briefly
 *   in-process for a slot (a fast host frees one in milliseconds), then is delayed without spending an
 *   attempt, for about as long as that host takes to answer (a fast host's job comes back soon, a slow
 *   host's waiting jobs are not fetched again every few milliseconds for nothing);
 * - `rate_limit_per_hour` per target URL across all workers (a Redis sliding window): over the limit a
 *   delivery is delayed until a slot frees, never dropped.
 */
export interface TargetGate {
  /** `canWait` false (no job token): admit regardless, so the caller never loses the job. */
  admit(url: string, canWait?: boolean): Promise<Admission>;
  /**
   * The email job's fast path: admitted only when a fast-path slot is free (`fastPathConcurrency`), the host has a
   * slot (its cap counts both paths; a full host is waited for as briefly as in `admit`), is not slow (moving
   * answer time ≤ FAST_PATH_MAX_ANSWER_MS) and the rate window has room. Refused (with its reason), the email
   * enqueues a delivery job.
   */
  admitFast(url: string): Promise<FastAdmission>;
  /** `durationMs`: how long the host took to answer this request (shapes the busy-host delay). `fast`: admitted by admitFast. */
  release(url: string, durationMs?: number, fast?: boolean): void;
}

export interface TargetGateOptions {
  perTargetConcurrency: number;
  /** The delivery worker's concurrency: jobs waiting for one host never take its last free slot. */
  workerConcurrency: number;
  /**
   * Fast-path requests in flight at once, all hosts together (the email worker's extra slots for delivering:
   * its planning slots stay free). Default 0: no fast path. One host may hold at most `perTargetConcurrency` of
   * them, as with delivery jobs, so a host that turns slow cannot hold them all before its answer time shows it.
   */
  fastPathConcurrency?: number;
  /** How long an email job may wait for a slot of a busy (not slow) host before it enqueues a delivery job instead. */
  fastPathWaitMs?: number;
  redis: Redis | Cluster;
  prefix: string;
  /** Current processing_prefs.rate_limit_per_hour (0 = unlimited), read live. */
  rateLimitPerHour(): Promise<number>;
  /** How long a job may wait in-process for a busy host's slot before it is delayed instead. */
  briefWaitMs?: number;
  random?: () => number;
  /** Destination health (cached per process): a target that is not healthy takes delivery jobs, never the fast path. */
  health?: { acceptsFast(url: string): boolean };
}

const HOUR_MS = 3_600_000;
/** Busy-host delay before the host has answered once in this process; jittered, so jobs do not return in lockstep. */
const BUSY_WAIT_MS = 100;
/** Bounds of the busy-host delay once the host's answer time is known (≈ one answer time: slots will have turned over). */
const BUSY_WAIT_MIN_MS = 10;
const BUSY_WAIT_MAX_MS = 1_000;
/** Weight of the newest answer time in a host's moving average. */
const ANSWER_TIME_WEIGHT = 0.2;
/**
 * A host at its cap during a burst frees a slot within milliseconds when it answers fast; a slow host does
 * not within this bound. Waiting this long in-process costs a fast host nothing, where a delay would cost
 * ~100 ms and two Redis round trips; a slow host's jobs are delayed after it, as before.
 */
const BRIEF_WAIT_MS = 25;
/** A host answering slower than this (moving average) is delivered through delivery jobs, not in the email job. */
export const FAST_PATH_MAX_ANSWER_MS = 2_000;
/** A busy host's slot is waited for this long on the fast path (a delivery job instead costs a whole job lifecycle). */
const FAST_PATH_WAIT_MS = 250;
/**
 * A host answering within this (moving average) turns its slots over many times a second: its emails wait
 * FAST_HOST_WAIT_FACTOR times longer for one. Under a drain, a loaded process answers in tens of ms and its waiters
 * sometimes pass 250 ms; each one refused would cost a delivery job (measured: 11–14 % of a 20,000-email drain).
 */
export const FAST_HOST_ANSWER_MS = 100;
const FAST_HOST_WAIT_FACTOR = 4;

const SLIDING_WINDOW = `
-- The hourly rate limit of one target URL, shared by every worker: a sliding window of admissions.
-- KEYS[1] the window (zset of admissions by time)
-- ARGV[1] now (epoch ms), ARGV[2] the limit per hour, ARGV[3] this admission's member (unique: equal members count once)
-- Returns 0 when admitted (and counted), else the ms until the window has room.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - ${HOUR_MS})
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ${HOUR_MS + 300_000})
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + ${HOUR_MS} - tonumber(ARGV[1]))
`;
const SLIDING_WINDOW_SCRIPT = redisScript(SLIDING_WINDOW);

export function createTargetGate(options: TargetGateOptions): TargetGate {
  const inFlight = new Map<string, number>();
  /** Per host, a moving average of answer times (ms). */
  const answerMs = new Map<string, number>();
  /** Per host, jobs waiting in-process for a slot, first come first served. */
  const waiters = new Map<string, Array<(gotSlot: boolean) => void>>();
  const random = options.random ?? Math.random;
  const briefWaitMs = options.briefWaitMs ?? BRIEF_WAIT_MS;
  // A host's waiters plus its in-flight jobs leave at least one worker slot to every other host.
  const maxWaiters = Math.max(0, options.workerConcurrency - options.perTargetConcurrency - 1);
  const acquire = (host: string) => inFlight.set(host, (inFlight.get(host) ?? 0) + 1);
  /** Requests in flight from email jobs (fast path), all hosts. */
  let fastTotal = 0;
  const fastPathConcurrency = options.fastPathConcurrency ?? 0;
  // A busy host's email jobs may fill every fast-path slot its requests leave, each for at most fastPathWaitMs: a fast
  // host frees slots within milliseconds (a drain to one host keeps every email on the fast path: a delivery job per
  // email refused here costs more than the wait), a slow one is refused once its answer time shows it.
  const maxFastWaiters = Math.max(0, fastPathConcurrency - options.perTargetConcurrency);
  const fastPathWaitMs = options.fastPathWaitMs ?? FAST_PATH_WAIT_MS;
  const releaseHost = (host: string) => {
    const queue = waiters.get(host);
    const next = queue?.shift();
    if (queue?.length === 0) waiters.delete(host);
    // Handed over: the slot stays counted as in flight, now for the waiter.
    if (next) return next(true);
    const count = (inFlight.get(host) ?? 1) - 1;
    if (count <= 0) inFlight.delete(host);
    else inFlight.set(host, count);
  };
  const waitForSlot = (host: string, waitMs: number) =>
    new Promise<boolean>((resolve) => {
      const queue = waiters.get(host) ?? [];
      waiters.set(host, queue);
      const timer = setTimeout(() => {
        const index = queue.indexOf(settle);
        if (index >= 0) queue.splice(index, 1);
        if (queue.length === 0 && waiters.get(host) === queue) waiters.delete(host);
        resolve(false);
      }, waitMs);
      const settle = (gotSlot: boolean) => {
        clearTimeout(timer);
        resolve(gotSlot);
      };
      queue.push(settle);
    });
  /**
   * The one "take a slot of `host` or wait for one": a free slot is taken at once; a host at its cap is waited for
   * (up to `waitMs`, in arrival order) unless `maxQueue` jobs already wait for it. False: no slot.
   */
  const takeSlot = async (host: string, maxQueue: number, waitMs: number): Promise<boolean> => {
    if ((inFlight.get(host) ?? 0) < options.perTargetConcurrency) {
      acquire(host);
      return true;
    }
    if ((waiters.get(host)?.length ?? 0) >= maxQueue) return false;
    return waitForSlot(host, waitMs);
  };
  const releaseFast = () => {
    fastTotal = Math.max(0, fastTotal - 1);
  };
  /**
   * The hourly rate limit (a Redis sliding window shared by every worker), for a request holding a slot of `host`:
   * 0 when it may go, else how long until the window frees (the slot is released then).
   */
  const rateWindowWait = async (url: string, host: string): Promise<number> => {
    const limit = await options.rateLimitPerHour();
    if (limit <= 0) return 0;
    const key = `${options.prefix}:ratelimit:${createHash('sha256').update(url).digest('hex').slice(0, 24)}`;
    const now = Date.now();
    const wait = await SLIDING_WINDOW_SCRIPT.run(options.redis, [key], [now, limit, `${now}-${randomUUID()}`]).then(
      Number,
      (error: unknown) => {
        releaseHost(host);
        throw error;
      },
    );
    if (wait > 0) releaseHost(host);
    return wait;
  };
  const busy = (host: string): Admission => {
    const average = answerMs.get(host);
    const base = average === undefined ? BUSY_WAIT_MS : Math.min(BUSY_WAIT_MAX_MS, Math.max(BUSY_WAIT_MIN_MS, average));
    return { admitted: false, reason: 'target_busy', waitMs: Math.round(base * (0.5 + random())) };
  };

  return {
    async admit(url, canWait = true) {
      const host = hostOf(url);
      if (!canWait) {
        acquire(host);
        return { admitted: true };
      }
      if (!(await takeSlot(host, maxWaiters, briefWaitMs))) return busy(host);
      const wait = await rateWindowWait(url, host);
      return wait > 0 ? { admitted: false, reason: 'rate_limited', waitMs: wait } : { admitted: true };
    },
    async admitFast(url) {
      if (options.health && !options.health.acceptsFast(url)) return { admitted: false, reason: 'target_unhealthy' };
      const host = hostOf(url);
      const average = answerMs.get(host);
      if (fastTotal >= fastPathConcurrency) return { admitted: false, reason: 'fast_slots_full' };
      if (average !== undefined && average > FAST_PATH_MAX_ANSWER_MS) return { admitted: false, reason: 'target_slow' };
      // A host at its cap that is not slow frees a slot soon: wait for it (up to fastPathWaitMs, holding an email
      // slot) rather than pay a whole delivery job's lifecycle. An email for another host waits at most that long
      // for an email slot.
      const waitMs = average !== undefined && average <= FAST_HOST_ANSWER_MS ? fastPathWaitMs * FAST_HOST_WAIT_FACTOR : fastPathWaitMs;
      if (!(await takeSlot(host, maxFastWaiters, waitMs))) return { admitted: false, reason: 'target_busy' };
      if (fastTotal >= fastPathConcurrency) {
        releaseHost(host);
        return { admitted: false, reason: 'fast_slots_full' };
      }
      fastTotal += 1;
      // rateWindowWait gives the host's slot back when it refuses or fails; the fast-path count is ours.
      const wait = await rateWindowWait(url, host).catch((error: unknown) => {
        releaseFast();
        throw error;
      });
      if (wait > 0) {
        releaseFast();
        return { admitted: false, reason: 'rate_limited' };
      }
      return { admitted: true };
    },
    release(url, durationMs, fast = false) {
      const host = hostOf(url);
      if (fast) releaseFast();
      if (durationMs !== undefined && Number.isFinite(durationMs) && durationMs >= 0) {
        const previous = answerMs.get(host);
        answerMs.set(host, previous === undefined ? durationMs : previous + ANSWER_TIME_WEIGHT * (durationMs - previous));
      }
      releaseHost(host);
    },
  };
}
