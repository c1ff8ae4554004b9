import type { Cluster, Redis } from 'ioredis';
import type { z } from 'zod';
import type { Logger } from '@render-signal/observability';
import { redisScript } from '@render-signal/queue';

/**
 * Live configuration documents in Redis, shared by every API and worker process.
 * - One key per document, written whole by a Lua compare-and-set: a reader never sees half a
 *   document, and a write based on a stale revision is refused (two operators cannot overwrite each
 *   other silently).
 * - Every write publishes the document name; each process drops its cached copy on the message, so
 *   a change is seen everywhere within milliseconds, without restart. A (re)connected subscriber
 *   clears the whole cache, since messages sent while it was away are lost.
 */

export interface StoredMeta {
  _updated_at: string | null;
  _revision: number;
}

export type DocumentSchemas = Record<string, z.ZodType<Record<string, unknown>>>;
export type DocumentOf<S extends DocumentSchemas, N extends keyof S> = z.infer<S[N]> & StoredMeta;

export class ConfigConflictError extends Error {
  constructor(
    readonly document: string,
    readonly currentRevision: number,
  ) {
    super(`${document} was changed by someone else (now at revision ${currentRevision}): reload and apply your change again`);
    this.name = 'ConfigConflictError';
  }
}

export class ConfigValidationError extends Error {
  constructor(
    readonly document: string,
    readonly issues: Array<{ path: string; message: string }>,
  ) {
    super(issues[0]?.message ?? `invalid ${document}`);
    this.name = 'ConfigValidationError';
  }
}

export interface ConfigStoreOptions<S extends DocumentSchemas> {
  /** Commands (reads and writes). */
  redis: Redis | Cluster;
  /** A dedicated connection for SUBSCRIBE (a subscribed connection can run nothing else). */
  subscriber: Redis | Cluster;
  prefix: string;
  schemas: S;
  /** Values used under the stored ones (env defaults, as in the original). */
  defaults: { [N in keyof S]: () => Partial<z.input<S[N]>> };
  logger: Logger;
  now?: () => Date;
}

export interface ConfigStore<S extends DocumentSchemas> {
  get<N extends keyof S & string>(name: N): Promise<DocumentOf<S, N>>;
  /** Several documents read in one round trip: a consistent view for one email. */
  snapshot<N extends keyof S & string>(names: readonly N[]): Promise<{ [K in N]: DocumentOf<S, K> }>;
  /** Validates and stores the whole document. `expectedRevision` enables the stale-write check. */
  put<N extends keyof S & string>(name: N, value: unknown, options?: { expectedRevision?: number }): Promise<DocumentOf<S, N>>;
  /** Validates every document first, then writes them all in one transaction (import: nothing half-applied). */
  putMany(values: Partial<Record<keyof S & string, unknown>>): Promise<void>;
  /** The raw stored document (no defaults), or null. */
  raw(name: keyof S & string): Promise<Record<string, unknown> | null>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const COMPARE_AND_SET = redisScript(`
-- Writes a config document if its revision is the one expected, stamps _updated_at/_revision, announces the change.
-- KEYS[1] the document key
-- ARGV[1] expected revision or '' (any), ARGV[2] the document's JSON without meta, ARGV[3] ISO time,
--   ARGV[4] the change channel, ARGV[5] the document name
-- Returns {1, new revision} when written, {0, current revision} on a conflict.
local current = redis.call('GET', KEYS[1])
local revision = 0
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded['_revision']) then revision = tonumber(decoded['_revision']) end
end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= revision then
  return {0, revision}
end
local nextRevision = revision + 1
local body = string.sub(ARGV[2], 1, -2)
if body ~= '{' then body = body .. ',' end
body = body .. '"_updated_at":"' .. ARGV[3] .. '","_revision":' .. nextRevision .. '}'
redis.call('SET', KEYS[1], body)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, nextRevision}
`);

/** The Redis key of one document (also named by `npm run migrate`'s report). */
export function configDocumentKey(prefix: string, name: string): string {
  return `${prefix}:config:${name}`;
}

/** Insurance against a lost invalidation message: no cached document is older than this. */
const MAX_CACHE_AGE_MS = 5_000;

export function createConfigStore<S extends DocumentSchemas>(options: ConfigStoreOptions<S>): ConfigStore<S> {
  const { redis, subscriber, prefix, schemas, logger } = options;
  const now = options.now ?? (() => new Date());
  const keyOf = (name: string) => configDocumentKey(prefix, name);
  const channel = `${prefix}:config:changed`;
  const cache = new Map<string, { value: Record<string, unknown>; at: number }>();
  // Bumped on every invalidation: a read that raced with a change does not cache what it read.
  let epoch = 0;
  const invalidate = (name?: string) => {
    epoch += 1;
    if (name) cache.delete(name);
    else cache.clear();
  };
  const fresh = (name: string) => {
    const entry = cache.get(name);
    return entry && Date.now() - entry.at < MAX_CACHE_AGE_MS ? entry.value : undefined;
  };

  function validate(name: string, value: unknown): Record<string, unknown> {
    const schema = schemas[name];
    if (!schema) throw new Error(`unknown config document ${name}`);
    const base = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    const { _updated_at: _u, _revision: _r, ...rest } = base;
    const parsed = schema.safeParse({ ...options.defaults[name]!(), ...rest });
    if (!parsed.success) {
      throw new ConfigValidationError(
        name,
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    }
    return parsed.data;
  }

  function decode(name: string, raw: string | null): Record<string, unknown> {
    let stored: Record<string, unknown> = {};
    if (raw) {
      try {
        stored = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        logger.error('config.unreadable', { document: name });
      }
    }
    const meta: StoredMeta = {
      _updated_at: typeof stored._updated_at === 'string' ? stored._updated_at : null,
      _revision: typeof stored._revision === 'number' ? stored._revision : 0,
    };
    try {
      return { ...validate(name, stored), ...meta };
    } catch (error) {
      // A stored document that no longer validates must not stop the pipeline: fall back to defaults, loudly.
      logger.error('config.invalid_stored_document', { document: name, error: (error as Error).message });
      return { ...validate(name, {}), ...meta };
    }
  }

  const store: ConfigStore<S> = {
    async get(name) {
      const cached = fresh(name);
      if (cached) return cached as DocumentOf<S, typeof name>;
      const before = epoch;
      const value = decode(name, await redis.get(keyOf(name)));
      if (before === epoch) cache.set(name, { value, at: Date.now() });
      return value as DocumentOf<S, typeof name>;
    },
    async snapshot(names) {
      const result: Record<string, Record<string, unknown>> = {};
      const missing = names.filter((n) => {
        const cached = fresh(n);
        if (cached) result[n] = cached;
        return !cached;
      });
      if (missing.length > 0) {
        const before = epoch;
        const raws = await redis.mget(...missing.map(keyOf));
        missing.forEach((name, i) => {
          result[name] = decode(name, raws[i] ?? null);
          if (before === epoch) cache.set(name, { value: result[name], at: Date.now() });
        });
      }
      return result as never;
    },
    async put(name, value, putOptions = {}) {
      const doc = validate(name, value);
      const [ok, revision] = (await COMPARE_AND_SET.run(
        redis,
        [keyOf(name)],
        [
          putOptions.expectedRevision === undefined ? '' : String(putOptions.expectedRevision),
          JSON.stringify(doc),
          now().toISOString(),
          channel,
          name,
        ],
      )) as [number, number];
      if (ok !== 1) throw new ConfigConflictError(name, revision);
      invalidate(name);
      logger.info('config.updated', { document: name, revision });
      return { ...doc, _updated_at: now().toISOString(), _revision: revision } as DocumentOf<S, typeof name>;
    },
    async putMany(values) {
      const docs = Object.entries(values).map(([name, value]) => [name, validate(name, value)] as const);
      const revisions = await redis.mget(...docs.map(([name]) => keyOf(name)));
      const at = now().toISOString();
      const multi = redis.multi();
      docs.forEach(([name, doc], i) => {
        let revision = 0;
        try {
          revision = Number((JSON.parse(revisions[i] ?? '{}') as StoredMeta)._revision ?? 0) || 0;
        } catch {
          revision = 0;
        }
        multi.set(keyOf(name), JSON.stringify({ ...doc, _updated_at: at, _revision: revision + 1 }));
        multi.publish(channel, name);
      });
      await multi.exec();
      for (const [name] of docs) invalidate(name);
      logger.info('config.imported', { documents: docs.map(([name]) => name) });
    },
    async raw(name) {
      const value = await redis.get(keyOf(name));
      return value ? (JSON.parse(value) as Record<string, unknown>) : null;
    },
    async start() {
      subscriber.on('message', (ch: string, name: string) => {
        if (ch === channel) invalidate(name);
      });
      // Messages published while the subscriber was disconnected are gone: forget everything on (re)connect.
      subscriber.on('ready', () => invalidate());
      await subscriber.subscribe(channel);
    },
    async close() {
      await subscriber.unsubscribe(channel).catch(() => {});
      invalidate();
    },
  };
  return store;
}
