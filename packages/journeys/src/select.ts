import type { Cluster, Redis } from 'ioredis';
import type { ReplayCursor, ReplayFilter } from '@render-signal/contracts';
import { listItem, matchesFilter, summaryHashSchema, type EmailSummaryHash } from './fold';
import { journeyKeys } from './keys';

/**
 * Bulk replay's selection: which (email, target) deliveries a filter picks, read from the journeys index and the
 * per-email summaries (no event list, no job is read). The match is pure and table-tested; the walk reads the
 * index oldest first by score range in pages, with the summaries of a page in one pipeline.
 */

export interface SelectedDelivery {
  email_id: string;
  webhook_id: string;
  /** `targetIdOf(url)`, '' for a journey written before target ids existed. */
  target_id: string;
  /** Masked target URL ('***' when unknown). */
  target: string;
  received_at: number;
  subject: string;
}

/** The deliveries of one email that the filter selects (none for an email outside the range or the query). */
export function selectDeliveries(emailId: string, summary: EmailSummaryHash, filter: ReplayFilter): SelectedDelivery[] {
  if (summary.received_at === null) return [];
  const item = listItem(emailId, summary);
  if (!matchesFilter(item, { words: filter.words, since: filter.since, until: filter.until })) return [];
  const webhookIds = new Set([...Object.keys(summary.targets), ...Object.keys(summary.deliveries)]);
  const out: SelectedDelivery[] = [];
  for (const webhookId of [...webhookIds].sort()) {
    const state = summary.targets[webhookId];
    const delivery = summary.deliveries[webhookId];
    const statusMatches =
      filter.status === 'any'
        ? true
        : filter.status === 'dead_lettered'
          ? state === 'failed'
          : filter.status === 'delivered'
            ? state === 'delivered'
            : state === 'failed' || summary.failed_attempts.includes(webhookId);
    if (!statusMatches) continue;
    if (filter.target_id !== undefined && delivery?.target_id !== filter.target_id) continue;
    if (filter.origin !== undefined && delivery?.origin !== filter.origin) continue;
    out.push({
      email_id: emailId,
      webhook_id: webhookId,
      target_id: delivery?.target_id ?? '',
      target: delivery?.target ?? '***',
      received_at: summary.received_at,
      subject: summary.subject,
    });
  }
  return out;
}

export interface WalkOptions {
  redis: Redis | Cluster;
  prefix: string;
  filter: ReplayFilter;
  /** Summaries read per round trip. */
  pageSize?: number;
  /** Called with each page's selected deliveries and the cursor after that page; return false to stop. */
  onPage(selected: SelectedDelivery[], cursor: ReplayCursor): Promise<boolean | void> | boolean | void;
}

export const SELECT_PAGE = 1_000;

/** Walks the index from `since` to `until` (oldest first); returns how many journeys it looked at. */
export async function walkSelection(options: WalkOptions): Promise<{ scanned: number }> {
  const { redis, filter } = options;
  const keys = journeyKeys(options.prefix);
  const pageSize = options.pageSize ?? SELECT_PAGE;
  const max = filter.until !== undefined ? String(filter.until) : '+inf';
  let min = filter.since !== undefined ? String(filter.since) : '-inf';
  let after: ReplayCursor | null = null;
  let offset = 0;
  let scanned = 0;
  for (;;) {
    const raw = await redis.zrangebyscore(keys.index, min, max, 'WITHSCORES', 'LIMIT', offset, pageSize);
    if (raw.length === 0) return { scanned };
    const rows: Array<{ id: string; score: number }> = [];
    for (let i = 0; i < raw.length; i += 2) {
      const id = raw[i]!;
      const score = Number(raw[i + 1]);
      // Same arrival ms as the last row of the previous page: ids up to it were on that page.
      if (after && score === after.score && id <= after.email_id) continue;
      rows.push({ id, score });
    }
    const full = raw.length / 2 === pageSize;
    if (rows.length === 0) {
      // A whole page of one millisecond already seen: look further into it.
      if (!full) return { scanned };
      offset += pageSize;
      continue;
    }
    const pipeline = redis.pipeline();
    for (const row of rows) pipeline.hgetall(keys.summary(row.id));
    const answers = (await pipeline.exec()) ?? [];
    const selected: SelectedDelivery[] = [];
    for (let i = 0; i < rows.length; i++) {
      const [error, hash] = answers[i] ?? [null, null];
      if (error) throw error;
      const summary = summaryHashSchema.safeParse(hash ?? {});
      if (summary.success) selected.push(...selectDeliveries(rows[i]!.id, summary.data, filter));
    }
    scanned += rows.length;
    const last = rows[rows.length - 1]!;
    after = { score: last.score, email_id: last.id };
    min = String(last.score);
    offset = 0;
    if ((await options.onPage(selected, after)) === false || !full) return { scanned };
  }
}
