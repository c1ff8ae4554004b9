import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { redisScript } from '@render-signal/queue';
import {
  acceptsFastPath,
  afterAttempt,
  afterTick,
  jobDecision,
  successChanges,
  targetIdOf,
  withProbe,
  type AttemptReport,
  type JobDecision,
  type TargetEvent,
  type TargetHealth,
  type TargetHealthPolicy,
  type TargetState,
} from './target-health';
import type { TargetHealthStore } from './target-health-store';

// KEYS[1] the leader lock. ARGV[1] this process' token, ARGV[2] lock time (ms).
// Returns 1 when this process holds the lock (taken or renewed), else 0.
const LEAD = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;
const LEAD_SCRIPT = redisScript(LEAD);

interface MonitorLog {
  warn(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
}

/**
 * What became of a held delivery asked to run now: `promoted` (was delayed), `waiting` (will run anyway), `active`
 * (running: sending, or being held again by a view older than this release), `gone` (finished or removed).
 */
export type PromoteOutcome = 'promoted' | 'waiting' | 'active' | 'gone';

export interface TargetHealthMonitorOptions {
  store: TargetHealthStore;
  redis: Redis | Cluster;
  /** A connection of its own for pub/sub (subscribed: it can do nothing else). */
  subscriber: Redis | Cluster;
  prefix: string;
  policy: TargetHealthPolicy;
  /** Held deliveries released per second while recovering, across all workers (one leader releases). */
  releaseRatePerSecond: number;
  /** Makes a held (delayed) delivery job run now. */
  promote(jobId: string): Promise<PromoteOutcome>;
  /** A transition with an event happened (once, in the process that wrote it): its alert. Never throws into the caller. */
  onEvent(event: TargetEvent, record: TargetHealth, facts: { held: number; previous: TargetHealth }): Promise<void>;
  maskUrl(url: string): string;
  log: MonitorLog;
  /** How often the cache is refreshed and the leader acts (default 1 s: the state a worker acts on is at most this old). */
  tickMs?: number;
  now?: () => number;
}

/**
 * A worker's view of destination health: a cache of every target's record (refreshed every tick and by the
 * transitions published), so the healthy path costs no Redis round trip; attempts reported; held deliveries; and,
 * in the one process holding the leader lock, what time does (pause after TARGET_PAUSE_AFTER, probes, release).
 */
export interface TargetHealthMonitor {
  /** The fast path only for a healthy target (from the cache: no Redis). */
  acceptsFast(url: string): boolean;
  /** A delivery job about to send: send, hold (recorded in the target's held list), or dead-letter. */
  admitJob(job: { url: string; jobId: string; arrivedAt: number }): Promise<JobDecision>;
  /** Records an attempt's outcome; answers the target's state after it. A success on a healthy target writes nothing. */
  observe(url: string, report: AttemptReport, job?: { jobId: string; arrivedAt: number; origin?: string }): Promise<TargetState>;
  /** Adds a delivery job to the target's held list (released oldest first when the target recovers). */
  hold(url: string, jobId: string, arrivedAt: number): Promise<void>;
  /** Cached records (tests, metrics). */
  cached(): TargetHealth[];
  start(): Promise<void>;
  /** One round of refresh (+ the leader's work when this process leads). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

const IDS_MAX = 1_024;

export function createTargetHealthMonitor(options: TargetHealthMonitorOptions): TargetHealthMonitor {
  const { store, policy, log } = options;
  const now = options.now ?? Date.now;
  const tickMs = options.tickMs ?? 1_000;
  const cache = new Map<string, TargetHealth>();
  const ids = new Map<string, string>();
  const token = randomUUID();
  const lockKey = `${options.prefix}:target:leader`;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let closed = false;
  const lastRelease = new Map<string, number>();
  /**
   * This process' writes to one target, one after the other: a burst of failures (50 deliveries answered 503 at once)
   * would otherwise race each other's compare-and-set; across processes the store retries.
   */
  const chains = new Map<string, Promise<unknown>>();
  const serial = <T>(id: string, run: () => Promise<T>): Promise<T> => {
    const previous = chains.get(id) ?? Promise.resolve();
    const next = previous.then(run, run);
    const tail = next.catch(() => {});
    chains.set(id, tail);
    void tail.then(() => {
      if (chains.get(id) === tail) chains.delete(id);
    });
    return next;
  };
  /** Attempts per target since the last flush (success rates): written once per tick, never per attempt. */
  let counts = new Map<string, { ok: number; failed: number }>();
  const count = (id: string, ok: boolean) => {
    const entry = counts.get(id) ?? { ok: 0, failed: 0 };
    if (ok) entry.ok += 1;
    else entry.failed += 1;
    counts.set(id, entry);
  };
  const masked = new Map<string, { target: string; origin?: string | undefined }>();
  /** Flushes the counts; a target seen for the first time gets its (healthy) record, so the operator can list and pause it. */
  const flush = async () => {
    if (counts.size === 0) return;
    const batch = counts;
    counts = new Map();
    await store.addCounts(Math.floor(now() / 3_600_000) * 3_600_000, batch);
    for (const id of batch.keys()) {
      const seen = masked.get(id);
      masked.delete(id);
      if (cache.has(id)) continue;
      const written = await store.update(id, seen?.target ?? 'invalid', (current) =>
        current.version === 0 ? { record: { ...current, ...(seen?.origin ? { origin: seen.origin } : {}) } } : undefined,
      );
      if (written) remember(written.record);
    }
  };

  const idOf = (url: string) => {
    let id = ids.get(url);
    if (id === undefined) {
      if (ids.size >= IDS_MAX) ids.clear();
      id = targetIdOf(url);
      ids.set(url, id);
    }
    return id;
  };
  const remember = (record: TargetHealth) => {
    const known = cache.get(record.id);
    if (!known || known.version <= record.version) cache.set(record.id, record);
  };
  const announce = async (event: TargetEvent | undefined, record: TargetHealth, previous: TargetHealth) => {
    if (!event) return;
    const held = await store.heldCount(record.id).catch(() => 0);
    log.info(event.replace('target.', 'target_health.'), { target: record.target, target_id: record.id, state: record.state, held });
    await options
      .onEvent(event, record, { held, previous })
      .catch((error: unknown) =>
        log.warn('alert.enqueue_failed', { event, target: record.target, error: error instanceof Error ? error.message : String(error) }),
      );
  };
  const onMessage = (channel: string, message: string) => {
    if (channel !== store.channel) return;
    const record = store.parse(message);
    if (record) remember(record);
  };

  const lead = async () => {
    const leading = await LEAD_SCRIPT.run(options.redis, [lockKey], [token, tickMs * 3]);
    if (leading !== 1) return;
    for (const record of [...cache.values()]) {
      if (record.state === 'healthy') continue;
      await leadTarget(record).catch((error: unknown) =>
        log.warn('target_health.tick_failed', { target: record.target, error: error instanceof Error ? error.message : String(error) }),
      );
    }
  };
  const leadTarget = async (record: TargetHealth) => {
    const at = now();
    const held = await store.heldCount(record.id);
    const planned = afterTick(record, { now: at, held }, policy);
    if (planned.record !== record || planned.event) {
      const written = await store.update(record.id, record.target, (current) => {
        const next = afterTick(current, { now: at, held }, policy);
        return next.record === current && !next.event ? undefined : next;
      });
      if (written) {
        remember(written.record);
        await announce(written.event, written.record, written.previous);
      }
      return;
    }
    if (planned.probe) return probe(record, at);
    if (record.state === 'recovering') {
      // TARGET_RELEASE_RATE per second of time actually elapsed since the last release (a slow tick releases more).
      const last = lastRelease.get(record.id) ?? at - 1_000;
      const batch = Math.max(1, Math.round((options.releaseRatePerSecond * Math.min(Math.max(0, at - last), 2_000)) / 1000));
      lastRelease.set(record.id, at);
      await release(record.id, await store.takeOldest(record.id, batch));
    } else lastRelease.delete(record.id);
    if (record.state === 'paused' && record.discard_before !== undefined)
      await release(record.id, await store.takeOldest(record.id, 1_000, record.discard_before));
  };
  /**
   * Runs held deliveries now. One that is running may be in the middle of being held again (it read the state just
   * before this release): it stays on the list, so a later round finds it delayed and promotes it.
   */
  const release = async (id: string, held: Array<{ jobId: string; arrivedAt: number }>) => {
    await Promise.all(
      held.map(async (h) => {
        const outcome = await options.promote(h.jobId).catch(() => 'gone' as const);
        if (outcome === 'active') await store.hold(id, h.jobId, h.arrivedAt);
        return outcome;
      }),
    );
  };
  /** The oldest held delivery still there goes out as the probe. */
  const probe = async (record: TargetHealth, at: number) => {
    for (let tries = 0; tries < 10; tries += 1) {
      const [oldest] = await store.takeOldest(record.id, 1);
      if (oldest === undefined) return;
      const { jobId } = oldest;
      const written = await store.update(record.id, record.target, (current) =>
        current.state === 'paused' && !current.operator ? { record: withProbe(current, jobId, at, policy) } : undefined,
      );
      if (!written) return;
      remember(written.record);
      const outcome = await options.promote(jobId).catch(() => 'gone' as const);
      // Running (maybe being held again from an older view): kept on the list; the next probe comes an interval later.
      if (outcome === 'active') await store.hold(record.id, jobId, oldest.arrivedAt);
      if (outcome !== 'gone') {
        log.info('target_health.probe', { target: record.target, target_id: record.id, job_id: jobId });
        return;
      }
    }
  };

  const monitor: TargetHealthMonitor = {
    acceptsFast: (url) => acceptsFastPath(cache.get(idOf(url))),
    async admitJob(job) {
      const id = idOf(job.url);
      if (acceptsFastPath(cache.get(id))) return { send: true };
      const fresh = await store.read(id);
      if (fresh) remember(fresh);
      const decision = jobDecision(fresh, { jobId: job.jobId, arrivedAt: job.arrivedAt, now: now() }, policy);
      if (!decision.send && decision.hold) await store.hold(id, job.jobId, job.arrivedAt);
      return decision;
    },
    async observe(url, report, job) {
      const id = idOf(url);
      const cached = cache.get(id);
      count(id, report.ok);
      if (!cached && !masked.has(id)) masked.set(id, { target: options.maskUrl(url), origin: job?.origin });
      if (report.ok && !successChanges(cached)) return cached?.state ?? 'healthy';
      const at = now();
      const written = await serial(id, () =>
        store.update(
          id,
          options.maskUrl(url),
          (current) => {
            if (report.ok && !successChanges(current)) return undefined;
            const next = afterAttempt(current, report, at, policy);
            return job?.origin ? { ...next, record: { ...next.record, origin: job.origin } } : next;
          },
          at,
        ),
      );
      if (!written) return cached?.state ?? 'healthy';
      remember(written.record);
      await announce(written.event, written.record, written.previous);
      // A failed delivery of a target in trouble can be released early when it recovers (its retry may be hours away).
      if (!report.ok && job && written.record.state !== 'healthy') await store.hold(id, job.jobId, job.arrivedAt);
      return written.record.state;
    },
    hold: (url, jobId, arrivedAt) => store.hold(idOf(url), jobId, arrivedAt),
    cached: () => [...cache.values()],
    async start() {
      options.subscriber.on('message', onMessage);
      await options.subscriber.subscribe(store.channel);
      for (const record of await store.readAll()) remember(record);
      // Every tickMs from the previous tick's start (its own duration does not slow the release down).
      const loop = (startedAt: number) => {
        if (closed) return;
        timer = setTimeout(
          () => {
            const start = Date.now();
            ticking = monitor.tick().finally(() => {
              ticking = undefined;
              loop(start);
            });
          },
          Math.max(0, startedAt + tickMs - Date.now()),
        );
        timer.unref();
      };
      loop(Date.now());
    },
    async tick() {
      try {
        for (const record of await store.readAll()) remember(record);
        await flush();
        await lead();
      } catch (error) {
        log.warn('target_health.tick_failed', { error: error instanceof Error ? error.message : String(error) });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await ticking;
      await flush().catch(() => {});
      options.subscriber.off('message', onMessage);
      await options.subscriber.unsubscribe(store.channel).catch(() => {});
    },
  };
  return monitor;
}
