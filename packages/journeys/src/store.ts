import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { parseStoredEvent, type JourneyEvent } from './events';
import { decodeLine } from './line';
import { listItem, matchesFilter, summaryHashSchema, type EmailFilter, type EmailListItem } from './fold';
import { journeyKeys } from './keys';
import { hourHashSchema, hourRange, hourStats, totalStats, type HourStats } from './stats';

/** The read side of journeys (the API): one email's events, the searchable list, the hourly figures. */
export interface JourneyStore {
  /** Events in order; lines that fail their schema are skipped and counted. Null when unknown (or expired). */
  events(emailId: string): Promise<{ events: JourneyEvent[]; invalid: number } | null>;
  search(filter: EmailFilter, page: { limit: number; cursor?: string | undefined }): Promise<EmailPage>;
  stats(hours: number): Promise<StatsAnswer>;
}

export interface EmailPage {
  emails: EmailListItem[];
  /** Pass back as `cursor` for the next (older) page; null at the end. */
  next_cursor: string | null;
  /** Journeys looked at for this page (a narrow search over a long history may return fewer than `limit`). */
  scanned: number;
}

export interface StatsAnswer {
  hours: HourStats[];
  totals: Omit<HourStats, 'hour'>;
  last_received_at: string | null;
  last_delivered_at: string | null;
}

export interface JourneyStoreOptions {
  redis: Redis | Cluster;
  prefix: string;
  now?: () => number;
}

const marksSchema = z.record(z.string(), z.string());

/** Summaries read per round trip while searching, and at most this many per request. */
const SCAN_PAGE = 200;
const SCAN_BUDGET = 20_000;

/** Cursor: `<arrival ms>:<email_id>` of the last row returned (newest first, ties by id descending). */
export function encodeCursor(score: number, emailId: string): string {
  return Buffer.from(`${score}:${emailId}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): { score: number; emailId: string } | null {
  if (!cursor) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const colon = text.indexOf(':');
  const score = Number(text.slice(0, colon));
  if (colon <= 0 || !Number.isFinite(score)) return null;
  return { score, emailId: text.slice(colon + 1) };
}

export function createJourneyStore(options: JourneyStoreOptions): JourneyStore {
  const { redis } = options;
  const keys = journeyKeys(options.prefix);
  const now = options.now ?? Date.now;

  return {
    async events(emailId) {
      const lines = await redis.lrangeBuffer(keys.events(emailId), 0, -1);
      if (lines.length === 0) return null;
      const events: JourneyEvent[] = [];
      let invalid = 0;
      for (const line of lines) {
        let raw: unknown;
        try {
          raw = JSON.parse(decodeLine(line));
        } catch {
          invalid += 1;
          continue;
        }
        // One event, or the events one batch recorded for the email (see the recorder).
        const items: unknown[] = Array.isArray(raw) ? raw : [raw];
        for (const item of items) {
          const parsed = parseStoredEvent(item);
          if (parsed.success) events.push(parsed.data);
          else invalid += 1;
        }
      }
      return { events, invalid };
    },

    async search(filter, page) {
      const cursor = decodeCursor(page.cursor);
      const max = cursor ? String(cursor.score) : filter.until !== undefined ? String(filter.until) : '+inf';
      const min = filter.since !== undefined ? String(filter.since) : '-inf';
      const out: EmailListItem[] = [];
      let offset = 0;
      let scanned = 0;
      let lastScore: number | null = null;
      let lastId: string | null = null;
      while (scanned < SCAN_BUDGET) {
        const raw = await redis.zrevrangebyscore(keys.index, max, min, 'WITHSCORES', 'LIMIT', offset, SCAN_PAGE);
        if (raw.length === 0) return { emails: out, next_cursor: null, scanned };
        offset += raw.length / 2;
        const rows: Array<{ id: string; score: number }> = [];
        for (let i = 0; i < raw.length; i += 2) {
          const id = raw[i]!;
          const score = Number(raw[i + 1]);
          // Same arrival ms as the cursor: ids at or above the cursor's were on earlier pages.
          if (cursor && score === cursor.score && id >= cursor.emailId) continue;
          rows.push({ id, score });
        }
        const pipeline = redis.pipeline();
        for (const row of rows) pipeline.hgetall(keys.summary(row.id));
        const answers = rows.length ? ((await pipeline.exec()) ?? []) : [];
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!;
          scanned += 1;
          lastScore = row.score;
          lastId = row.id;
          const [error, hash] = answers[i] ?? [null, null];
          if (error) throw error;
          const summary = summaryHashSchema.safeParse(hash ?? {});
          if (!summary.success || summary.data.received_at === null) continue;
          const item = listItem(row.id, summary.data);
          if (!matchesFilter(item, filter)) continue;
          out.push(item);
          if (out.length >= page.limit) return { emails: out, next_cursor: encodeCursor(row.score, row.id), scanned };
        }
        if (raw.length / 2 < SCAN_PAGE) return { emails: out, next_cursor: null, scanned };
      }
      return { emails: out, next_cursor: lastScore !== null && lastId !== null ? encodeCursor(lastScore, lastId) : null, scanned };
    },

    async stats(hours) {
      const range = hourRange(hours, now());
      const pipeline = redis.pipeline();
      for (const hour of range) pipeline.hgetall(keys.hour(hour));
      pipeline.hgetall(keys.last);
      const answers = (await pipeline.exec()) ?? [];
      const figures = range.map((_, i) => {
        const [error, hash] = answers[i] ?? [null, {}];
        if (error) throw error;
        return hourHashSchema.parse(hash ?? {});
      });
      const [lastError, lastHash] = answers[range.length] ?? [null, {}];
      if (lastError) throw lastError;
      const marks = marksSchema.parse(lastHash ?? {});
      const mark = (field: string) => {
        const ms = Number(marks[field]);
        return Number.isInteger(ms) && ms > 0 ? new Date(ms).toISOString() : null;
      };
      return {
        hours: range.map((hour, i) => hourStats(hour, figures[i]!)),
        totals: totalStats(figures),
        last_received_at: mark('received'),
        last_delivered_at: mark('delivered'),
      };
    },
  };
}
