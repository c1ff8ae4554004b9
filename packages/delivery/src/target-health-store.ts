import type { Cluster, Redis } from 'ioredis';
import { redisScript } from '@render-signal/queue';
import { newTargetHealth, targetHealthSchema, type TargetHealth, type Transition } from './target-health';

// KEYS[1] the target's record (JSON), KEYS[2] the set of known target ids.
// ARGV[1] the version the new record was computed from (0: no record yet), ARGV[2] the new record (JSON, version + 1),
// ARGV[3] the target id, ARGV[4] the channel every worker listens on.
// Returns 1 when written (and published); else the record as stored now (another worker wrote first: compute again).
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = tonumber(cjson.decode(current).version) or 0 end
if version ~= tonumber(ARGV[1]) then return current or '' end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
`;
const COMPARE_AND_SET_SCRIPT = redisScript(COMPARE_AND_SET);

export interface TargetHealthStoreOptions {
  redis: Redis | Cluster;
  prefix: string;
}

export interface TargetHealthStore {
  /** Pub/sub channel of every written record (JSON). */
  readonly channel: string;
  read(id: string): Promise<TargetHealth | undefined>;
  readAll(): Promise<TargetHealth[]>;
  /**
   * One atomic transition: `change` computes the next record from the stored one (or a new healthy one); it is
   * written only if nobody wrote in between (else computed again). Exactly one caller gets a given `event`.
   * `change` answering undefined writes nothing.
   */
  update(
    id: string,
    target: string,
    change: (current: TargetHealth) => Transition | undefined,
    now?: number,
  ): Promise<(Transition & { previous: TargetHealth }) | undefined>;
  /** Held deliveries of a target (zset: job id → arrival ms), oldest first. */
  hold(id: string, jobId: string, arrivedAt: number): Promise<void>;
  heldCount(id: string): Promise<number>;
  oldestHeld(id: string): Promise<{ jobId: string; arrivedAt: number } | undefined>;
  /** Takes up to `count` of the oldest held deliveries (at most `maxArrival` when given) off the list. */
  takeOldest(id: string, count: number, maxArrival?: number): Promise<Array<{ jobId: string; arrivedAt: number }>>;
  /** Adds attempt counts (per target, for the hour starting at `hourMs`): one pipeline for a worker's few seconds of attempts. */
  addCounts(hourMs: number, counts: ReadonlyMap<string, { ok: number; failed: number }>): Promise<void>;
  /** Attempts (ok, failed) of a target over the last hour and the last 24 hours (whole hours). */
  counts(id: string, now: number): Promise<{ hour: { ok: number; failed: number }; day: { ok: number; failed: number } }>;
  /** Parses a published or stored record; undefined when it does not validate. */
  parse(json: string): TargetHealth | undefined;
}

const MAX_TRIES = 50;
const HOUR_MS = 3_600_000;

export function createTargetHealthStore(options: TargetHealthStoreOptions): TargetHealthStore {
  const { redis, prefix } = options;
  const recordKey = (id: string) => `${prefix}:target:${id}`;
  const heldKey = (id: string) => `${prefix}:target:${id}:held`;
  const indexKey = `${prefix}:targets`;
  const channel = `${prefix}:target:changed`;
  const parse = (json: string | null | undefined): TargetHealth | undefined => {
    if (!json) return undefined;
    try {
      const result = targetHealthSchema.safeParse(JSON.parse(json));
      return result.success ? result.data : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    channel,
    parse,
    read: async (id) => parse(await redis.get(recordKey(id))),
    async readAll() {
      const ids = await redis.smembers(indexKey);
      if (ids.length === 0) return [];
      const values = await redis.mget(...ids.map(recordKey));
      return values.map(parse).filter((r): r is TargetHealth => r !== undefined);
    },
    async update(id, target, change, now = Date.now()) {
      let stored = await redis.get(recordKey(id));
      for (let tries = 0; tries < MAX_TRIES; tries += 1) {
        const previous = parse(stored) ?? newTargetHealth(id, target, now);
        const transition = change(previous);
        if (!transition) return undefined;
        const record: TargetHealth = { ...transition.record, target: previous.target || target, version: previous.version + 1 };
        const written = await COMPARE_AND_SET_SCRIPT.run(
          redis,
          [recordKey(id), indexKey],
          [previous.version, JSON.stringify(record), id, channel],
        );
        if (written === 1) return { ...transition, record, previous };
        stored = typeof written === 'string' ? written : null;
        // Another process wrote first: computed again from its record, after a short random pause (spreads a burst).
        await new Promise((r) => setTimeout(r, Math.random() * 5 * (tries + 1)));
      }
      throw new Error(`target ${id}: too many concurrent writes`);
    },
    async hold(id, jobId, arrivedAt) {
      await redis.zadd(heldKey(id), 'NX', arrivedAt, jobId);
    },
    heldCount: (id) => redis.zcard(heldKey(id)),
    async oldestHeld(id) {
      const [jobId, score] = await redis.zrange(heldKey(id), 0, 0, 'WITHSCORES');
      return jobId === undefined ? undefined : { jobId, arrivedAt: Number(score) };
    },
    async addCounts(hourMs, counts) {
      if (counts.size === 0) return;
      const pipeline = redis.pipeline();
      for (const [id, { ok, failed }] of counts) {
        const key = `${prefix}:target:${id}:h:${hourMs}`;
        if (ok) pipeline.hincrby(key, 'ok', ok);
        if (failed) pipeline.hincrby(key, 'failed', failed);
        pipeline.pexpire(key, 25 * HOUR_MS);
      }
      await pipeline.exec();
    },
    async counts(id, now) {
      const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
      const pipeline = redis.pipeline();
      for (let i = 0; i < 24; i += 1) pipeline.hmget(`${prefix}:target:${id}:h:${hour - i * HOUR_MS}`, 'ok', 'failed');
      const rows = ((await pipeline.exec()) ?? []).map(([, value]) => (Array.isArray(value) ? value : []) as Array<string | null>);
      const sum = (list: Array<Array<string | null>>) =>
        list.reduce((acc, [ok, failed]) => ({ ok: acc.ok + Number(ok ?? 0), failed: acc.failed + Number(failed ?? 0) }), {
          ok: 0,
          failed: 0,
        });
      return { hour: sum(rows.slice(0, 1)), day: sum(rows) };
    },
    async takeOldest(id, count, maxArrival) {
      if (count <= 0) return [];
      const pairs = (flat: string[]) => {
        const out: Array<{ jobId: string; arrivedAt: number }> = [];
        for (let i = 0; i + 1 < flat.length; i += 2) out.push({ jobId: flat[i]!, arrivedAt: Number(flat[i + 1]) });
        return out;
      };
      if (maxArrival === undefined) return pairs(await redis.zpopmin(heldKey(id), count));
      const taken = pairs(await redis.zrangebyscore(heldKey(id), '-inf', maxArrival, 'WITHSCORES', 'LIMIT', 0, count));
      if (taken.length > 0) await redis.zrem(heldKey(id), ...taken.map((t) => t.jobId));
      return taken;
    },
  };
}
