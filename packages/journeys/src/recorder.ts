import type { Cluster, Redis } from 'ioredis';
import { redisScript, type ScriptArg } from '@render-signal/queue';
import { storedEvent, type JourneyEvent } from './events';
import { encodeLine } from './line';
import { summaryFields } from './fold';
import { statsIncrements } from './stats';
import { journeyKeys } from './keys';

/**
 * Where the pipeline reports what happened to an email. Recording never fails the caller and never makes
 * it wait for Redis: `record` resolves once the event is stored (or reported lost through `onError`).
 * Events recorded in the same event-loop turn (deliveries finishing together under load) go to Redis as
 * one script, like the webhook log: events, summaries, index, hourly figures, in one round trip.
 */
export interface JourneyRecorder {
  record(emailId: string, event: JourneyEvent): void;
  /** Like record, but rejects when Redis refused the write (the API's operator actions). */
  append(emailId: string, event: JourneyEvent): Promise<void>;
  /** Resolves when every event recorded so far is stored. */
  flush(): Promise<void>;
}

export interface JourneyRetention {
  /** Journeys (and hourly figures) older than this are dropped. */
  maxAgeDays: number;
  /** The newest this many journeys are kept. */
  maxEntries: number;
}

export interface JourneyRecorderOptions extends JourneyRetention {
  redis: Redis | Cluster;
  prefix: string;
  onError?: (error: Error, lost: number) => void;
  now?: () => number;
}

const DAY_MS = 86_400_000;
const ignore = () => {};
/** Events per script call (its argument list stays small). */
const CHUNK = 200;
/**
 * How long events wait to be written with the ones that follow. A script call costs Redis far more than the few
 * commands it runs for one email; under load this window gathers dozens of emails into one call. Nobody waits
 * for it: `record` is never awaited, and `append` (an operator's action) and `flush` write at once.
 */
export const RECORD_WINDOW_MS = 10;

const RECORD_SCRIPT = `-- Writes one batch of journey events (the recorder's batch: several emails at once).
-- KEYS[1] index (zset by arrival), KEYS[2] the "last received / delivered" hash, KEYS[3..] journey and hour keys.
-- ARGV[1] ttl (s), ARGV[2] max journeys, ARGV[3] oldest arrival kept (ms), ARGV[4] journey key prefix, then ops:
-- E <events key> <summary key> <n> <line>×n <m> (<field> <value>)×m <k> (<field> <value>)×k
--     one per email and batch: its lines appended (the recorder sends one: the email's events of the batch, a JSON
--     array when several), m fields set, k fields set only when absent (HSETNX);
--     a journey's keys get their TTL when created (its age counts from its first event)
-- I <score> <email_id>                                            — index
-- S <hour key> <n> (<field> <by>)×n                               — hourly counters
-- L <field> <ms>                                                  — "last" mark, kept at its maximum
-- Returns 1 (an unknown op is an error reply).
local ttl = tonumber(ARGV[1])
local i = 5
local indexed = false
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'E' then
    local ek = KEYS[tonumber(ARGV[i + 1])]
    local sk = KEYS[tonumber(ARGV[i + 2])]
    local n = tonumber(ARGV[i + 3])
    local len = redis.call('RPUSH', ek, unpack(ARGV, i + 4, i + 3 + n))
    i = i + 4 + n
    local m = tonumber(ARGV[i])
    if m > 0 then redis.call('HSET', sk, unpack(ARGV, i + 1, i + 2 * m)) end
    i = i + 1 + 2 * m
    local k = tonumber(ARGV[i])
    for j = 0, k - 1 do redis.call('HSETNX', sk, ARGV[i + 1 + 2 * j], ARGV[i + 2 + 2 * j]) end
    i = i + 1 + 2 * k
    if len == n then
      redis.call('EXPIRE', ek, ttl)
      redis.call('EXPIRE', sk, ttl)
    end
  elseif op == 'I' then
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i + 2])
    indexed = true
    i = i + 3
  elseif op == 'S' then
    local k = KEYS[tonumber(ARGV[i + 1])]
    local n = tonumber(ARGV[i + 2])
    i = i + 3
    for j = 0, n - 1 do
      redis.call('HINCRBY', k, ARGV[i + 2 * j], ARGV[i + 2 * j + 1])
    end
    redis.call('EXPIRE', k, ttl + 3600)
    i = i + 2 * n
  elseif op == 'L' then
    local current = tonumber(redis.call('HGET', KEYS[2], ARGV[i + 1]) or '0')
    if tonumber(ARGV[i + 2]) > current then redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i + 2]) end
    i = i + 3
  else
    return redis.error_reply('unknown op ' .. tostring(op))
  end
end
if indexed then
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
  local over = redis.call('ZCARD', KEYS[1]) - #gone - tonumber(ARGV[2])
  if over > 0 then
    local extra = redis.call('ZRANGE', KEYS[1], #gone, #gone + over - 1)
    for _, id in ipairs(extra) do table.insert(gone, id) end
  end
  for _, id in ipairs(gone) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('DEL', ARGV[4] .. id, ARGV[4] .. id .. ':s')
  end
end
return 1`;
const RECORD = redisScript(RECORD_SCRIPT);

interface Pending {
  emailId: string;
  event: JourneyEvent;
  settle: (error?: Error) => void;
}

/**
 * One list element per email and batch: its event, or its events as a JSON array (the store reads both), deflated
 * when long (line.ts).
 */
function lineOf(events: readonly JourneyEvent[]): Buffer | string {
  return encodeLine(JSON.stringify(events.length === 1 ? storedEvent(events[0]!) : events.map(storedEvent)));
}

export function createJourneyRecorder(options: JourneyRecorderOptions): JourneyRecorder {
  const keys = journeyKeys(options.prefix);
  const now = options.now ?? Date.now;
  const ttlSeconds = Math.ceil((options.maxAgeDays * DAY_MS) / 1000);
  let batch: Pending[] | undefined;
  const inFlight = new Set<Promise<void>>();

  const send = (chunk: Pending[]): Promise<void> => {
    const keyList: string[] = [keys.index, keys.last];
    const keyIndex = new Map<string, number>();
    const keyRef = (key: string) => {
      let index = keyIndex.get(key);
      if (index === undefined) {
        keyList.push(key);
        index = keyList.length;
        keyIndex.set(key, index);
      }
      return String(index);
    };
    const args: ScriptArg[] = [];
    const hours = new Map<number, Map<string, number>>();
    const last = new Map<string, number>();
    // One E op per email of the batch (its events in order), so a journey costs one RPUSH and one HSET.
    const perEmail = new Map<string, { events: JourneyEvent[]; set: Map<string, string>; setIfAbsent: Map<string, string> }>();
    const indexed: Array<[number, string]> = [];
    for (const { emailId, event } of chunk) {
      let entry = perEmail.get(emailId);
      if (!entry) {
        entry = { events: [], set: new Map(), setIfAbsent: new Map() };
        perEmail.set(emailId, entry);
      }
      entry.events.push(event);
      for (const [field, value] of summaryFields(event)) {
        if (field.charCodeAt(0) === 63 /* ? */) {
          if (!entry.setIfAbsent.has(field.slice(1))) entry.setIfAbsent.set(field.slice(1), value);
        } else entry.set.set(field, value);
      }
      if (event.type === 'received') indexed.push([event.accepted_at, emailId]);
      const stats = statsIncrements(event);
      for (const { hour, field, by } of stats.increments) {
        const counters = hours.get(hour) ?? new Map<string, number>();
        counters.set(field, (counters.get(field) ?? 0) + by);
        hours.set(hour, counters);
      }
      if (stats.last) last.set(stats.last.field, Math.max(last.get(stats.last.field) ?? 0, stats.last.at));
    }
    for (const [emailId, entry] of perEmail) {
      args.push('E', keyRef(keys.events(emailId)), keyRef(keys.summary(emailId)), '1', lineOf(entry.events));
      args.push(String(entry.set.size));
      for (const [field, value] of entry.set) args.push(field, value);
      // A field set in this batch needs no set-if-absent (the batch's own later value already won).
      const absent = [...entry.setIfAbsent].filter(([field]) => !entry.set.has(field));
      args.push(String(absent.length));
      for (const [field, value] of absent) args.push(field, value);
    }
    for (const [score, emailId] of indexed) args.push('I', String(score), emailId);
    for (const [hour, counters] of hours) {
      args.push('S', keyRef(keys.hour(hour)), String(counters.size));
      for (const [field, by] of counters) args.push(field, String(by));
    }
    for (const [field, at] of last) args.push('L', field, String(at));
    const oldest = now() - options.maxAgeDays * DAY_MS;
    return RECORD.run(options.redis, keyList, [
      String(ttlSeconds),
      String(options.maxEntries),
      String(oldest),
      keys.eventsPrefix,
      ...args,
    ]).then(
      () => chunk.forEach((p) => p.settle()),
      (error: Error) => {
        options.onError?.(error, chunk.length);
        chunk.forEach((p) => p.settle(error));
      },
    );
  };

  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const entries = batch ?? [];
    batch = undefined;
    for (let start = 0; start < entries.length; start += CHUNK) {
      const sent = send(entries.slice(start, start + CHUNK));
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
    }
  };

  const enqueue = (pending: Pending, now = false) => {
    if (!batch) {
      batch = [];
      timer = setTimeout(flush, RECORD_WINDOW_MS);
      timer.unref?.();
    }
    batch.push(pending);
    if (now) {
      clearTimeout(timer);
      timer = undefined;
      setImmediate(() => batch && flush());
    }
  };

  return {
    // Typed by the builders; the schemas check each line when it is read back (no parse on the hot path).
    record(emailId, event) {
      enqueue({ emailId, event, settle: ignore });
    },
    append(emailId, event) {
      return new Promise<void>((resolve, reject) =>
        enqueue({ emailId, event, settle: (error) => (error ? reject(error) : resolve()) }, true),
      );
    },
    async flush() {
      if (batch) flush();
      await Promise.all([...inFlight]);
    },
  };
}

/** A recorder that keeps what is recorded until `release`. */
export interface HeldJourneyRecorder extends JourneyRecorder {
  /** Records what was held (in order) and stops holding. */
  release(): void;
}

/** How long a job's events are held at most: a slow target's email shows in the list within this, not when it answers. */
export const HOLD_MAX_MS = 1_000;

/**
 * Holds one job's events and records them together when the job ends (`release`, in a finally): a fast-path email's
 * received, planned, dispatched and attempt events become one write of its journey instead of two. Past `maxMs` what
 * was held is recorded and the rest goes straight through. `append` and `flush` release first (nothing is reordered).
 * A job that crashes loses its held events; its re-run records them.
 */
export function holdJourneyEvents(target: JourneyRecorder, maxMs = HOLD_MAX_MS): HeldJourneyRecorder {
  let held: Array<[string, JourneyEvent]> | undefined = [];
  let timer: NodeJS.Timeout | undefined;
  const release = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const events = held;
    held = undefined;
    for (const [emailId, event] of events ?? []) target.record(emailId, event);
  };
  return {
    record(emailId, event) {
      if (!held) return target.record(emailId, event);
      held.push([emailId, event]);
      if (!timer) {
        timer = setTimeout(release, maxMs);
        timer.unref?.();
      }
    },
    append(emailId, event) {
      release();
      return target.append(emailId, event);
    },
    async flush() {
      release();
      await target.flush();
    },
    release,
  };
}
