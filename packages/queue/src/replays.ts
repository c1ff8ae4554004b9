import type { Cluster, Redis } from 'ioredis';
import { replayItemSchema, replayRecordSchema, type ReplayItem, type ReplayRecord } from '@render-signal/contracts';
import { redisScript } from './script';

/**
 * Saved bulk replays (issue 26): the record (a hash, one field per value, validated whole when read back), its
 * snapshot of the selection (a list of items, so the total is exact and a restarted runner resumes at its
 * cursor), and the job ids it queued (a set, so a delivery re-queued after a crash is counted once). Counters
 * move only through the scripts below, atomically, so the API, the runner and the delivery workers never
 * overwrite each other's writes.
 */

export function replayKeys(prefix: string) {
  return {
    /** zset replay id → creation ms (the list, newest first). */
    index: `${prefix}:replays`,
    record: (id: string) => `${prefix}:replay:${id}`,
    items: (id: string) => `${prefix}:replay:${id}:items`,
    queued: (id: string) => `${prefix}:replay:${id}:queued`,
  };
}

/** How long a replay (record, items, queued ids) is kept after it was started: as long as a dead letter. */
export const REPLAY_KEEP_S = 30 * 86_400;
const ITEM_CHUNK = 1_000;

const JSON_FIELDS = ['request', 'filter'] as const;
const NULLABLE_NUMBERS = ['started_at', 'finished_at'] as const;

function toHash(record: ReplayRecord): Record<string, string> {
  const hash: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) {
    if ((JSON_FIELDS as readonly string[]).includes(key)) hash[key] = JSON.stringify(value);
    else hash[key] = value === null ? '' : String(value);
  }
  return hash;
}

function fromHash(hash: Record<string, string>): ReplayRecord | null {
  if (!hash.id) return null;
  const raw: Record<string, unknown> = { ...hash };
  try {
    for (const key of JSON_FIELDS) raw[key] = JSON.parse(hash[key] ?? 'null');
  } catch {
    return null;
  }
  for (const key of NULLABLE_NUMBERS) raw[key] = hash[key] ? Number(hash[key]) : null;
  for (const key of ['created_at', 'rate_per_s', 'cursor', 'total', 'sent', 'delivered', 'failed', 'skipped']) raw[key] = Number(hash[key]);
  raw.walked = hash.walked === 'true';
  raw.error = hash.error ? hash.error : null;
  const parsed = replayRecordSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/** The replay is done once every item is handled and every job it queued has its outcome counted (shared by the scripts). */
const DONE_CHECK = `
local function done_check(key, now)
  local v = redis.call('HMGET', key, 'state', 'walked', 'sent', 'delivered', 'failed')
  if v[1] == 'running' and v[2] == 'true' and tonumber(v[4]) + tonumber(v[5]) >= tonumber(v[3]) then
    redis.call('HSET', key, 'state', 'done', 'finished_at', now)
  end
end
`;

/**
 * KEYS[1] the record, KEYS[2] the queued-ids set; ARGV[1] the new cursor, ARGV[2] skipped items of this step,
 * ARGV[3] 'true' when this step handled the last item, ARGV[4] now ms, ARGV[5..] the job ids queued by this step.
 * Adds the ids to the set (unless already counted: `#<id>`), counts the new ones as sent, moves the cursor forward (never back).
 * Returns the record's state after the step.
 */
const ADVANCE = redisScript(`${DONE_CHECK}
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local added = 0
for i = 5, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], '#' .. ARGV[i]) == 0 then added = added + redis.call('SADD', KEYS[2], ARGV[i]) end
end
redis.call('HINCRBY', KEYS[1], 'sent', added)
redis.call('HINCRBY', KEYS[1], 'skipped', tonumber(ARGV[2]))
if tonumber(ARGV[1]) > tonumber(redis.call('HGET', KEYS[1], 'cursor')) then redis.call('HSET', KEYS[1], 'cursor', ARGV[1]) end
if ARGV[3] == 'true' then redis.call('HSET', KEYS[1], 'walked', 'true') end
done_check(KEYS[1], ARGV[4])
return redis.call('HGET', KEYS[1], 'state')
`);

/**
 * KEYS[1] the record, KEYS[2] the queued-ids set; ARGV[1] 'delivered' or 'failed', ARGV[2] the delivery job id,
 * ARGV[3] now ms. Counts one outcome of a job this replay queued (each job once: its id leaves the set).
 * Returns 1 when counted, 0 when the job was not (or no longer) waiting for its outcome.
 */
const OUTCOME = redisScript(`${DONE_CHECK}
if redis.call('SREM', KEYS[2], ARGV[2]) == 0 then return 0 end
-- Counted: a resumed runner that queues it again (a no-op for BullMQ) must not count it as sent again.
redis.call('SADD', KEYS[2], '#' .. ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
done_check(KEYS[1], ARGV[3])
return 1
`);

/**
 * KEYS[1] the record; ARGV[1] the new state ('cancelled' or 'failed'), ARGV[2] now ms, ARGV[3] error text.
 * Ends a running replay. Returns the state after the call (unchanged when it had already ended), false when unknown.
 */
const END = redisScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state ~= 'running' then return state end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finished_at', ARGV[2], 'error', ARGV[3])
return ARGV[1]
`);

export interface ReplayStore {
  /** Saves the record and its selection (items in order), then lists it. */
  create(record: ReplayRecord, items: readonly ReplayItem[]): Promise<void>;
  get(id: string): Promise<ReplayRecord | null>;
  /** Newest first. */
  list(limit: number): Promise<ReplayRecord[]>;
  /** Items [from, from + count) of the selection (invalid lines are dropped). */
  items(id: string, from: number, count: number): Promise<ReplayItem[]>;
  markStarted(id: string, now: number): Promise<void>;
  advance(
    id: string,
    step: { cursor: number; queuedJobIds: readonly string[]; skipped: number; last: boolean; now: number },
  ): Promise<string>;
  outcome(id: string, jobId: string, outcome: 'delivered' | 'failed', now: number): Promise<boolean>;
  /** Ends a running replay ('cancelled' by an operator, 'failed' by the runner); returns the state after, null when unknown. */
  end(id: string, state: 'cancelled' | 'failed', now: number, error?: string): Promise<string | null>;
  /** Job ids queued by the replay whose outcome is not counted yet. */
  pendingJobIds(id: string): Promise<string[]>;
}

export function createReplayStore(options: { redis: Redis | Cluster; prefix: string }): ReplayStore {
  const { redis } = options;
  const keys = replayKeys(options.prefix);
  const store: ReplayStore = {
    async create(record, items) {
      const itemsKey = keys.items(record.id);
      for (let i = 0; i < items.length; i += ITEM_CHUNK) {
        const chunk = items.slice(i, i + ITEM_CHUNK).map((item) => `${item.email_id}\t${item.webhook_id}`);
        await redis.rpush(itemsKey, ...chunk);
      }
      await redis
        .multi()
        .hset(keys.record(record.id), toHash(record))
        .expire(keys.record(record.id), REPLAY_KEEP_S)
        .expire(itemsKey, REPLAY_KEEP_S)
        .zadd(keys.index, record.created_at, record.id)
        .zremrangebyscore(keys.index, '-inf', record.created_at - REPLAY_KEEP_S * 1000)
        .exec();
    },
    async get(id) {
      return fromHash(await redis.hgetall(keys.record(id)));
    },
    async list(limit) {
      const ids = await redis.zrevrange(keys.index, 0, limit - 1);
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(keys.record(id));
      const answers = ids.length ? ((await pipeline.exec()) ?? []) : [];
      return answers.map(([, hash]) => fromHash((hash ?? {}) as Record<string, string>)).filter((r): r is ReplayRecord => r !== null);
    },
    async items(id, from, count) {
      const lines = await redis.lrange(keys.items(id), from, from + count - 1);
      return lines.flatMap((line) => {
        const [email_id, webhook_id] = line.split('\t');
        const item = replayItemSchema.safeParse({ email_id, webhook_id });
        return item.success ? [item.data] : [];
      });
    },
    async markStarted(id, now) {
      // started_at is written '' at creation: set once, by the runner's first start.
      const current = await redis.hget(keys.record(id), 'started_at');
      if (!current) await redis.hset(keys.record(id), 'started_at', String(now));
    },
    async advance(id, step) {
      const queued = keys.queued(id);
      const state = await ADVANCE.run(
        redis,
        [keys.record(id), queued],
        [step.cursor, step.skipped, step.last ? 'true' : 'false', step.now, ...step.queuedJobIds],
      );
      await redis.expire(queued, REPLAY_KEEP_S);
      return String(state);
    },
    async outcome(id, jobId, outcome, now) {
      return (await OUTCOME.run(redis, [keys.record(id), keys.queued(id)], [outcome, jobId, now])) === 1;
    },
    async end(id, state, now, error) {
      const after = await END.run(redis, [keys.record(id)], [state, now, error ?? '']);
      return typeof after === 'string' ? after : null;
    },
    async pendingJobIds(id) {
      const members = await redis.smembers(keys.queued(id));
      return members.filter((m) => !m.startsWith('#'));
    },
  };
  return store;
}
