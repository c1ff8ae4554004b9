import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import {
  REPLAY_STATUSES,
  TARGET_ID_PATTERN,
  targetIdOf,
  type ReplayFilter,
  type ReplayItem,
  type ReplayRecord,
  type ReplayRequest,
  type ReplayStatus,
} from '@render-signal/contracts';
import { maskUrl } from '@render-signal/observability';
import type { ReplayStore } from '@render-signal/queue';
import { parseQueryWords } from './fold';
import { journeyKeys } from './keys';
import { walkSelection, type SelectedDelivery } from './select';

/**
 * Bulk replay's request side (API and CLI share it): resolve the operator's filter, preview it (dry run), and
 * save a replay with its snapshot of the selection for the worker's runner (`replay.run`).
 */

export type ReplayRefusal = { ok: false; status: 400 | 404; code: string; message: string };

const DAY_MS = 86_400_000;

function timeBound(value: string | number | undefined, edge: 'start' | 'end'): number | undefined | null {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'number') return value;
  if (/^\d{10,14}$/.test(value)) return Number(value);
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dateOnly ? `${value}T00:00:00.000Z` : value);
  if (Number.isNaN(ms)) return null;
  return dateOnly && edge === 'end' ? ms + DAY_MS - 1 : ms;
}

const refuse = (code: string, message: string, status: 400 | 404 = 400): ReplayRefusal => ({ ok: false, status, code, message });

/** The stored filter from the operator's one; refusals carry a machine-readable code (the dashboard words them in French). */
export function resolveReplayRequest(
  request: ReplayRequest,
  context: { rules: ReadonlyArray<{ id: string; name: string }>; maxRatePerS: number },
): { ok: true; filter: ReplayFilter } | ReplayRefusal {
  const f = request.filter;
  if (!(REPLAY_STATUSES as readonly string[]).includes(f.status))
    return refuse('invalid_status', `status must be one of ${REPLAY_STATUSES.join(', ')} (got ${f.status})`);
  const since = timeBound(f.since, 'start');
  const until = timeBound(f.until, 'end');
  if (since === null || until === null) return refuse('invalid_date', 'since/until must be an ISO date, an ISO date-time or epoch ms');
  if (since !== undefined && until !== undefined && since > until) return refuse('invalid_range', 'since is after until');
  const rate = request.rate_per_s;
  if (!Number.isFinite(rate) || rate <= 0) return refuse('invalid_rate', 'rate_per_s must be above 0');
  if (rate > context.maxRatePerS)
    return refuse('rate_too_high', `rate_per_s must be at most ${context.maxRatePerS} (REPLAY_MAX_RATE_PER_S)`);
  let targetId: string | undefined;
  if (f.target) {
    if (TARGET_ID_PATTERN.test(f.target)) targetId = f.target;
    else if (/^https?:\/\/\S+$/.test(f.target)) targetId = targetIdOf(f.target);
    else return refuse('invalid_target', 'target must be a target URL or its id (tgt_ + 12 hex)');
  }
  let origin: string | undefined;
  if (f.rule) {
    const rule = context.rules.find((r) => r.id === f.rule) ?? context.rules.find((r) => r.name === f.rule);
    if (!rule) return refuse('unknown_rule', `no routing rule with id or name ${f.rule}`);
    origin = `rule:${rule.id}`;
  }
  return {
    ok: true,
    filter: {
      status: f.status as ReplayStatus,
      ...(targetId !== undefined ? { target_id: targetId } : {}),
      ...(origin !== undefined ? { origin } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      words: parseQueryWords(f.query),
    },
  };
}

/** The request as shown back in the list (target masked: a URL may hold a token). */
export function shownRequest(request: ReplayRequest): Record<string, unknown> {
  const target = request.filter.target;
  return { ...request.filter, ...(target && !TARGET_ID_PATTERN.test(target) ? { target: maskUrl(target) ?? '***' } : {}) };
}

export interface ReplayPreview {
  count: number;
  emails: number;
  per_target: Array<{ target_id: string; target: string; count: number }>;
  sample: Array<{ email_id: string; webhook_id: string; target_id: string; target: string; received_at: string; subject: string }>;
  notes: ReplayNotes;
}

export interface ReplayNotes {
  /** How far back the selection can see: journeys are kept this long (and at most this many). */
  journeys_kept_days: number;
  journeys_max_entries: number;
  oldest_journey_at: string | null;
  /** Dead letters (failed delivery jobs) BullMQ keeps, and how many of them failed before the oldest kept journey. */
  dead_letters_kept: number;
  dead_letters_outside_journeys: number;
  /** Journeys looked at. */
  scanned: number;
}

export interface ReplaySelectContext {
  redis: Redis | Cluster;
  prefix: string;
  retention: { journeyMaxAgeDays: number; journeyMaxEntries: number };
}

const SAMPLE_SIZE = 20;

async function retentionNotes(context: ReplaySelectContext, scanned: number): Promise<ReplayNotes> {
  const { redis, prefix } = context;
  const oldest = await redis.zrange(journeyKeys(prefix).index, 0, 0, 'WITHSCORES');
  const oldestMs = oldest.length === 2 ? Number(oldest[1]) : null;
  // BullMQ's failed set of the delivery queue (score: when the job failed for good).
  const failedKey = `${prefix}:delivery:failed`;
  const [kept, before] = await Promise.all([
    redis.zcard(failedKey),
    oldestMs === null ? redis.zcard(failedKey) : redis.zcount(failedKey, '-inf', `(${oldestMs}`),
  ]);
  return {
    journeys_kept_days: context.retention.journeyMaxAgeDays,
    journeys_max_entries: context.retention.journeyMaxEntries,
    oldest_journey_at: oldestMs === null ? null : new Date(oldestMs).toISOString(),
    dead_letters_kept: kept,
    dead_letters_outside_journeys: before,
    scanned,
  };
}

/** The dry run: exact count, per target, the first 20 (oldest first), and what retention hides. */
export async function previewReplay(context: ReplaySelectContext, filter: ReplayFilter): Promise<ReplayPreview> {
  let count = 0;
  let emails = 0;
  const perTarget = new Map<string, { target_id: string; target: string; count: number }>();
  const sample: SelectedDelivery[] = [];
  const { scanned } = await walkSelection({
    redis: context.redis,
    prefix: context.prefix,
    filter,
    mode: 'count',
    sampleSize: SAMPLE_SIZE,
    onPage(page) {
      count += page.count;
      emails += page.emails;
      for (const t of page.perTarget) {
        const entry = perTarget.get(t.target_id) ?? { ...t, count: 0 };
        entry.count += t.count;
        perTarget.set(t.target_id, entry);
      }
      for (const row of page.rows) if (sample.length < SAMPLE_SIZE) sample.push(row);
    },
  });
  return {
    count,
    emails,
    per_target: [...perTarget.values()].sort((a, b) => b.count - a.count),
    sample: sample.map((d) => ({
      email_id: d.email_id,
      webhook_id: d.webhook_id,
      target_id: d.target_id,
      target: d.target,
      received_at: new Date(d.received_at).toISOString(),
      subject: d.subject,
    })),
    notes: await retentionNotes(context, scanned),
  };
}

export interface StartReplayInput {
  request: ReplayRequest;
  filter: ReplayFilter;
  who: string;
  now: number;
}

/** Saves a replay and its selection (a snapshot: the total is exact), then queues its runner job. */
export async function startReplay(
  context: ReplaySelectContext & { store: ReplayStore; enqueueRun: (replayId: string) => Promise<void> },
  input: StartReplayInput,
): Promise<ReplayRecord> {
  const items: ReplayItem[] = [];
  const seen = new Set<string>();
  await walkSelection({
    redis: context.redis,
    prefix: context.prefix,
    filter: input.filter,
    mode: 'rows',
    onPage(page) {
      for (const d of page.rows) {
        // With `current` the email is planned again once, for whatever targets it goes to today.
        const key = input.request.payload === 'current' ? d.email_id : `${d.email_id}\t${d.webhook_id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        items.push({ email_id: d.email_id, webhook_id: d.webhook_id });
      }
    },
  });
  const record: ReplayRecord = {
    id: `rp_${input.now.toString(36)}${randomBytes(3).toString('hex')}`,
    who: input.who,
    created_at: input.now,
    request: shownRequest(input.request),
    filter: input.filter,
    payload: input.request.payload,
    rate_per_s: input.request.rate_per_s,
    state: 'running',
    started_at: null,
    finished_at: null,
    cursor: 0,
    walked: items.length === 0,
    error: null,
    total: items.length,
    sent: 0,
    delivered: 0,
    failed: 0,
    skipped: 0,
  };
  if (items.length === 0) {
    record.state = 'done';
    record.started_at = input.now;
    record.finished_at = input.now;
  }
  await context.store.create(record, items);
  if (items.length > 0) await context.enqueueRun(record.id);
  return record;
}

/** What `GET /api/replays/:id` answers. */
export function replayView(record: ReplayRecord) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: record.id,
    who: record.who,
    created_at: iso(record.created_at),
    filter: record.request,
    payload: record.payload,
    rate_per_s: record.rate_per_s,
    state: record.state,
    total: record.total,
    sent: record.sent,
    delivered: record.delivered,
    failed: record.failed,
    skipped: record.skipped,
    remaining: Math.max(0, record.total - record.delivered - record.failed - record.skipped),
    started_at: iso(record.started_at),
    finished_at: iso(record.finished_at),
    error: record.error,
  };
}
