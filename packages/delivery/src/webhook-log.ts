import type { Cluster, Redis } from 'ioredis';
import { redisScript } from '@render-signal/queue';

/**
 * The webhook log the dashboard shows: one store (a Redis list, newest first) written by workers and
 * read by the API — the original wrote one key and read another. Capped by count on every write and
 * by age on read and write.
 */
export interface WebhookLogEntry {
  id: number;
  timestamp: string;
  type: 'custom' | 'failure_notification' | 'test';
  email_id: string;
  status: 'success' | 'error' | 'skipped';
  status_code: number | null;
  /** Always masked (`scheme://host/***`). */
  webhook_url: string | null;
  subject: string;
  delivery_mode?: string;
  attempted_delivery_modes?: string[];
  fallback_used?: boolean;
  payload_size_bytes?: number;
  error_message?: string;
  response_snippet?: string;
  failure_reason?: string;
  attempt?: number;
  max_attempts?: number;
  /** True when no attempt follows (delivered, dead-lettered or skipped). */
  final?: boolean;
  duration_ms?: number;
  target_origin?: string;
  webhook_id?: string;
  /** Set on entries carried from the original server by `npm run migrate` (where they came from + a content hash). */
  import_key?: string;
}

export interface WebhookLog {
  /** Written with the other entries of the next 10 ms (one script call); resolves once written. */
  append(entry: Omit<WebhookLogEntry, 'id' | 'timestamp'>): Promise<void>;
  /** Newest first, within `days`, optionally filtered by status. */
  list(options: { days: number; limit: number; status?: WebhookLogEntry['status'] }): Promise<WebhookLogEntry[]>;
}

export interface WebhookLogOptions {
  redis: Redis | Cluster;
  prefix: string;
  maxEntries: number;
  maxAgeDays: number;
  now?: () => number;
}

const DAY_MS = 86_400_000;
const SUBJECT_MAX = 100; // as the original
const PUSH_AND_TRIM = `-- Pushes webhook log lines and trims the list to its cap. LPUSH of several values leaves the last at the
-- head: the same order as one LPUSH per entry.
-- KEYS[1] the list
-- ARGV[1] the cap, ARGV[2..] lines, oldest first
-- Returns 1.
redis.call('LPUSH', KEYS[1], unpack(ARGV, 2))
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
return 1`;
const PUSH_AND_TRIM_SCRIPT = redisScript(PUSH_AND_TRIM);
/** Lines per script call: Lua's unpack() fails past a few thousand values (its C stack). */
const PUSH_CHUNK = 500;
/**
 * How long an entry waits for others before one script call writes them: at 500 deliveries/s a worker
 * appends every 2 ms, and one call per entry was a system call (and a Redis round trip) per email.
 */
export const WEBHOOK_LOG_WINDOW_MS = 10;

/** The Redis list holding the log, newest first. */
export function webhookLogKey(prefix: string): string {
  return `${prefix}:webhook_logs`;
}

export function createWebhookLog(options: WebhookLogOptions): WebhookLog {
  const key = webhookLogKey(options.prefix);
  const now = options.now ?? Date.now;
  // Integer ids that grow with time (the dashboard sorts by id, as the original did) without a Redis
  // round trip: milliseconds × 1000 + a per-process counter.
  let counter = 0;
  // Group commit: appends made in the same event-loop turn (deliveries finishing together under load) go
  // to Redis as one script (LPUSH + LTRIM, atomic); each append still resolves only once its entry is stored.
  // A script rather than MULTI/EXEC: one command instead of four (client CPU per call 22 → 9 µs, measured).
  let batch: Array<{ line: string; settle: (error?: Error) => void }> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    const entries = batch ?? [];
    batch = undefined;
    for (let start = 0; start < entries.length; start += PUSH_CHUNK) {
      const chunk = entries.slice(start, start + PUSH_CHUNK);
      PUSH_AND_TRIM_SCRIPT.run(options.redis, [key], [options.maxEntries, ...chunk.map((e) => e.line)]).then(
        () => chunk.forEach((e) => e.settle()),
        (error: Error) => chunk.forEach((e) => e.settle(error)),
      );
    }
  };
  return {
    append(entry) {
      const at = now();
      counter = (counter + 1) % 1000;
      const id = at * 1000 + counter;
      const full: WebhookLogEntry = { id, timestamp: new Date(at).toISOString(), ...entry, subject: entry.subject.slice(0, SUBJECT_MAX) };
      return new Promise<void>((resolve, reject) => {
        if (!batch) {
          batch = [];
          timer = setTimeout(flush, WEBHOOK_LOG_WINDOW_MS);
        }
        batch.push({ line: JSON.stringify(full), settle: (error) => (error ? reject(error) : resolve()) });
        if (batch.length >= PUSH_CHUNK) flush();
      });
    },
    async list({ days, limit, status }) {
      const cutoff = now() - Math.min(days, options.maxAgeDays) * DAY_MS;
      const out: WebhookLogEntry[] = [];
      const page = 500;
      for (let start = 0; out.length < limit; start += page) {
        const raw = await options.redis.lrange(key, start, start + page - 1);
        if (raw.length === 0) break;
        for (const line of raw) {
          let entry: WebhookLogEntry;
          try {
            entry = JSON.parse(line) as WebhookLogEntry;
          } catch {
            continue;
          }
          const at = Date.parse(entry.timestamp);
          // Newest first: once past the cutoff, everything after is older too.
          if (!Number.isNaN(at) && at < cutoff) return out;
          if (status && entry.status !== status) continue;
          out.push(entry);
          if (out.length >= limit) return out;
        }
      }
      return out;
    },
  };
}
