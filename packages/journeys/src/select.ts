import type { Cluster, Redis } from 'ioredis';
import type { ReplayFilter } from '@render-signal/contracts';
import { redisScript } from '@render-signal/queue';
import { foldText, listItem, matchesFilter, type EmailSummaryHash } from './fold';
import { journeyKeys } from './keys';

/**
 * Bulk replay's selection: which (email, target) deliveries a filter picks, read from the journeys index and the
 * per-email summaries (no event list, no job is read). The match is pure and table-tested; the walk runs the same
 * match in Redis, one script call per page of the index (oldest first, by score range), so that only matches
 * cross the wire: a preview over 100 000 dead letters reads no summary into the client.
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

/**
 * KEYS[1] the journeys index. ARGV[1] min score, ARGV[2] max score, ARGV[3] offset, ARGV[4] count (one page of the
 * index, ascending), ARGV[5] the summary keys' prefix (`<prefix>:journey:`; summaries share the index's hash tag),
 * ARGV[6] status, ARGV[7] target id ('' any), ARGV[8] origin ('' any), ARGV[9] 'rows' (every match as a row) or
 * 'count' (counts per target, rows only for the first ARGV[10]), ARGV[10] rows wanted in 'count' mode,
 * ARGV[11]/ARGV[12] the last (score, id) already seen ('' none), ARGV[13] '1' to include subject and sender.
 * The same match as `selectDeliveries` (the parity test runs both on the same summaries), run where the summaries
 * are: only matches cross the wire. Returns {page size, scanned, last score, last id, emails matched, deliveries
 * matched, {target id, masked URL, count}…, {email id, webhook id, target id, masked URL, received ms, subject,
 * sender}…}.
 */
const SELECT_PAGE = redisScript(`
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', ARGV[3], ARGV[4])
local status, want_target, want_origin, mode = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local rows_left = tonumber(ARGV[10])
local after_score = ARGV[11] ~= '' and tonumber(ARGV[11]) or nil
local after_id = ARGV[12]
local text = ARGV[13] == '1'
local scanned, emails, count = 0, 0, 0
local last_score, last_id = '', ''
local per_target, target_order, out = {}, {}, {}
for i = 1, #rows, 2 do
  local id, score = rows[i], rows[i + 1]
  if not (after_score and tonumber(score) == after_score and id <= after_id) then
    scanned = scanned + 1
    last_score, last_id = score, id
    local h = redis.call('HGETALL', ARGV[5] .. id .. ':s')
    local received, subject, sender = nil, '', ''
    local states, deliveries, failed, wids = {}, {}, {}, {}
    for j = 1, #h, 2 do
      local k, v = h[j], h[j + 1]
      local head, rest = string.sub(k, 1, 2), string.sub(k, 3)
      if k == 'received_at' then received = tonumber(v)
      elseif k == 'subject' then subject = v
      elseif k == 'sender' then sender = v
      elseif head == 't:' then
        if v == 'pending' or v == 'retrying' or v == 'delivered' or v == 'failed' or v == 'cancelled' then
          if not states[rest] and not deliveries[rest] then wids[#wids + 1] = rest end
          states[rest] = v
        end
      elseif head == 'd:' then
        local t1 = string.find(v, '\t', 1, true)
        local t2 = t1 and string.find(v, '\t', t1 + 1, true)
        if t1 and t2 and t1 > 1 then
          if not states[rest] and not deliveries[rest] then wids[#wids + 1] = rest end
          deliveries[rest] = { string.sub(v, 1, t1 - 1), string.sub(v, t1 + 1, t2 - 1), string.sub(v, t2 + 1) }
        end
      elseif head == 'f:' then failed[rest] = true
      end
    end
    if received and received > 0 then
      table.sort(wids)
      local matched = false
      for _, wid in ipairs(wids) do
        local state, d = states[wid], deliveries[wid]
        local ok
        if status == 'any' then ok = true
        elseif status == 'dead_lettered' then ok = state == 'failed'
        elseif status == 'delivered' then ok = state == 'delivered'
        else ok = state == 'failed' or failed[wid] == true end
        if ok and want_target ~= '' and (not d or d[1] ~= want_target) then ok = false end
        if ok and want_origin ~= '' and (not d or d[2] ~= want_origin) then ok = false end
        if ok then
          matched = true
          count = count + 1
          local tid, masked = d and d[1] or '', d and d[3] or '***'
          if mode == 'count' then
            if not per_target[tid] then per_target[tid] = { masked, 0 }; target_order[#target_order + 1] = tid end
            per_target[tid][2] = per_target[tid][2] + 1
          end
          if mode == 'rows' or rows_left > 0 then
            rows_left = rows_left - 1
            out[#out + 1] = { id, wid, tid, masked, tostring(received), text and subject or '', text and sender or '' }
          end
        end
      end
      if matched then emails = emails + 1 end
    end
  end
end
local targets = {}
for _, tid in ipairs(target_order) do targets[#targets + 1] = { tid, per_target[tid][1], per_target[tid][2] } end
return { #rows / 2, scanned, last_score, last_id, emails, count, targets, out }
`);

export interface SelectionPage {
  /** The page's matches as rows: all of them in `rows` mode, the first `sampleSize` overall in `count` mode. */
  rows: Array<SelectedDelivery & { sender: string }>;
  /** `count` mode: matches per target id (masked URL). */
  perTarget: Array<{ target_id: string; target: string; count: number }>;
  count: number;
  emails: number;
}

export interface WalkOptions {
  redis: Redis | Cluster;
  prefix: string;
  filter: ReplayFilter;
  /** `rows`: every match; `count`: aggregated per target (with the query's words, rows are needed: forced). */
  mode: 'rows' | 'count';
  /** `count` mode: rows wanted in all (the preview's first ones). */
  sampleSize?: number;
  /** Journeys read per script call. */
  pageSize?: number;
  onPage(page: SelectionPage): Promise<void> | void;
}

export const SELECT_PAGE_SIZE = 1_000;

const str = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');

/**
 * Walks the index from `since` to `until` (oldest first) one script call per page; returns how many journeys
 * it looked at. The query's words are matched here (accents folded like the emails list), on the rows.
 */
export async function walkSelection(options: WalkOptions): Promise<{ scanned: number }> {
  const { redis, filter } = options;
  const keys = journeyKeys(options.prefix);
  const pageSize = options.pageSize ?? SELECT_PAGE_SIZE;
  const words = filter.words;
  const mode = words.length > 0 ? 'rows' : options.mode;
  let sampleLeft = options.sampleSize ?? 0;
  const max = filter.until !== undefined ? String(filter.until) : '+inf';
  const min = filter.since !== undefined ? String(filter.since) : '-inf';
  let after: { score: string; id: string } | null = null;
  let offset = 0;
  let scanned = 0;
  for (;;) {
    const answer = (await SELECT_PAGE.run(
      redis,
      [keys.index],
      [
        after ? after.score : min,
        max,
        offset,
        pageSize,
        keys.eventsPrefix,
        filter.status,
        filter.target_id ?? '',
        filter.origin ?? '',
        mode,
        sampleLeft,
        after?.score ?? '',
        after?.id ?? '',
        words.length > 0 || (mode === 'count' && sampleLeft > 0) ? '1' : '0',
      ],
    )) as unknown[];
    const [size, pageScanned, lastScore, lastId, emails, count, targets, rows] = answer;
    scanned += Number(pageScanned);
    const full = Number(size) === pageSize;
    const page: SelectionPage = { rows: [], perTarget: [], count: Number(count), emails: Number(emails) };
    for (const t of (targets as unknown[][] | undefined) ?? [])
      page.perTarget.push({ target_id: str(t[0]), target: str(t[1]), count: Number(t[2]) });
    for (const r of (rows as unknown[][] | undefined) ?? []) {
      const row = {
        email_id: str(r[0]),
        webhook_id: str(r[1]),
        target_id: str(r[2]),
        target: str(r[3]),
        received_at: Number(r[4]),
        subject: str(r[5]),
        sender: str(r[6]),
      };
      if (!row.email_id || !row.webhook_id || !Number.isFinite(row.received_at)) continue;
      page.rows.push(row);
    }
    if (words.length > 0) {
      // The words are matched here: recount the page from its rows.
      page.rows = page.rows.filter((row) => {
        const haystack = foldText(`${row.subject}\n${row.sender}\n${row.email_id}`);
        return words.every((w) => haystack.includes(w));
      });
      page.count = page.rows.length;
      page.emails = new Set(page.rows.map((r) => r.email_id)).size;
      if (options.mode === 'count') {
        const perTarget = new Map<string, { target_id: string; target: string; count: number }>();
        for (const row of page.rows) {
          const entry = perTarget.get(row.target_id) ?? { target_id: row.target_id, target: row.target, count: 0 };
          entry.count += 1;
          perTarget.set(row.target_id, entry);
        }
        page.perTarget = [...perTarget.values()];
        page.rows = page.rows.slice(0, sampleLeft);
      }
    }
    sampleLeft = Math.max(0, sampleLeft - page.rows.length);
    if (page.count > 0 || page.rows.length > 0) await options.onPage(page);
    if (!full) return { scanned };
    if (Number(pageScanned) === 0) {
      // A whole page of one millisecond already seen: look further into it.
      offset += pageSize;
      continue;
    }
    after = { score: str(lastScore), id: str(lastId) };
    offset = 0;
  }
}
