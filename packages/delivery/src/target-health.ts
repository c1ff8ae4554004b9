import { z } from 'zod';
import { FAILURE_REASONS, targetIdOf, type FailureReason, type SendAlertJob } from '@render-signal/contracts';

/**
 * Destination health: one record per target URL, shared by every worker (stored by target-health-store.ts).
 * This file is the pure policy: what an attempt, a tick of time or an operator's action does to a record.
 *
 *   healthy ──(TARGET_FAILING_AFTER failed attempts in a row)──▶ failing
 *   failing ──(no success for TARGET_PAUSE_AFTER)──▶ paused ──(a probe succeeds, or resume)──▶ recovering
 *   failing ──(a success)──▶ recovering ──(nothing held any more)──▶ healthy
 *   any ──(operator pause)──▶ paused (operator: no probe, kept until resumed)
 *
 * While paused, deliveries are held (they wait without spending attempts); one held delivery is sent as a probe
 * every probe interval (doubling while it fails, up to the max). Recovering releases the held ones, oldest first.
 */
export const TARGET_STATES = ['healthy', 'failing', 'paused', 'recovering'] as const;
export type TargetState = (typeof TARGET_STATES)[number];

export const TARGET_EVENTS = ['target.failing', 'target.paused', 'target.recovered'] as const;
export type TargetEvent = (typeof TARGET_EVENTS)[number];

export const targetHealthSchema = z.object({
  /** targetIdOf(url): stable, and says nothing of the URL. */
  id: z.string().min(1),
  /** The URL masked (maskUrl): what every output shows. */
  target: z.string(),
  /** Where the target comes from, as its deliveries say (`default`, `rule:<id>`, …): tells apart targets masked alike. */
  origin: z.string().optional(),
  state: z.enum(TARGET_STATES),
  /** When the current state began (ms). */
  since: z.number(),
  /** Bumped by every write: the compare-and-set of the store. */
  version: z.number().int().min(0),
  /** Failed attempts in a row. */
  failures: z.number().int().min(0),
  /** First failure after the last success: the pause clock. */
  failing_since: z.number().optional(),
  /** When the target left `healthy`: the outage's length in the recovered alert. */
  outage_since: z.number().optional(),
  last_success_at: z.number().optional(),
  last_failure_at: z.number().optional(),
  last_error: z.object({ status: z.number().int().optional(), reason: z.enum(FAILURE_REASONS), excerpt: z.string().optional() }).optional(),
  /** Paused by an operator: no probe, held until resumed. */
  operator: z.boolean().default(false),
  probe_interval_ms: z.number().optional(),
  next_probe_at: z.number().optional(),
  /** The held delivery let through as the current probe. */
  probe_job: z.string().optional(),
  /** Held deliveries that arrived at or before this are dead-lettered (`discarded_by_operator`) when they run. */
  discard_before: z.number().optional(),
});
export type TargetHealth = z.infer<typeof targetHealthSchema>;

export interface TargetHealthPolicy {
  failingAfter: number;
  pauseAfterMs: number;
  probeIntervalMs: number;
  probeMaxIntervalMs: number;
  holdMaxMs: number;
}

export interface Transition {
  record: TargetHealth;
  event?: TargetEvent;
}

/** What an attempt tells about its target: a success, or a failure as the retry policy counts them. */
export type AttemptReport =
  | { ok: true; jobId?: string | undefined }
  | { ok: false; jobId?: string | undefined; status?: number | undefined; reason: FailureReason; excerpt?: string | undefined };

/** Stable id of a target URL (the record's key and the API's `:id`): one definition, in packages/contracts. */
export { targetIdOf };

export function newTargetHealth(id: string, target: string, now: number): TargetHealth {
  return { id, target, state: 'healthy', since: now, version: 0, failures: 0, operator: false };
}

/** The fast path (the email job POSTing itself) only for a healthy target: any other goes through a delivery job. */
export function acceptsFastPath(record: TargetHealth | undefined): boolean {
  return !record || record.state === 'healthy';
}

/** A success needs writing only when it changes something (the healthy path writes nothing). */
export function successChanges(record: TargetHealth | undefined): boolean {
  return record !== undefined && (record.state !== 'healthy' || record.failures > 0);
}

function enter(record: TargetHealth, state: TargetState, now: number): TargetHealth {
  const { probe_job: _p, next_probe_at: _n, probe_interval_ms: _i, discard_before: _d, ...rest } = record;
  return { ...rest, state, since: now, operator: false };
}

/** Every failed attempt counts (5xx, timeout, network, 429, `success: false`, and the permanent 4xx such as 410). */
export function afterAttempt(record: TargetHealth, report: AttemptReport, now: number, policy: TargetHealthPolicy): Transition {
  if (report.ok) {
    const base: TargetHealth = { ...record, failures: 0, last_success_at: now };
    delete base.failing_since;
    if (record.state === 'failing' || (record.state === 'paused' && !record.operator))
      return { record: enter(base, 'recovering', now), event: 'target.recovered' };
    return { record: base };
  }
  const failures = record.failures + 1;
  // A body that could not be rendered (`template_error`) never reached the target: it counts towards `failing`
  // (the alert says the deliveries fail) but not towards pausing, which would hold the target's good deliveries.
  const reached = report.reason !== 'template_error';
  const next: TargetHealth = {
    ...record,
    failures,
    ...(reached || record.failing_since !== undefined ? { failing_since: record.failing_since ?? now } : {}),
    last_failure_at: now,
    last_error: {
      reason: report.reason,
      ...(report.status !== undefined ? { status: report.status } : {}),
      ...(report.excerpt ? { excerpt: report.excerpt } : {}),
    },
  };
  switch (record.state) {
    case 'healthy':
      if (failures < policy.failingAfter) return { record: next };
      return { record: { ...enter(next, 'failing', now), outage_since: now }, event: 'target.failing' };
    case 'failing':
      return pauseIfDue(next, now, policy);
    case 'recovering':
      // Back down while releasing: paused again at once (its held deliveries stay held).
      if (failures < policy.failingAfter || next.failing_since === undefined) return { record: next };
      return { record: paused(next, now, policy), event: 'target.paused' };
    case 'paused': {
      if (record.operator || !report.jobId || report.jobId !== record.probe_job) return { record: next };
      // The probe failed: the next one waits twice as long (bounded).
      const interval = Math.min(policy.probeMaxIntervalMs, (record.probe_interval_ms ?? policy.probeIntervalMs) * 2);
      const { probe_job: _p, ...rest } = next;
      return { record: { ...rest, probe_interval_ms: interval, next_probe_at: now + interval } };
    }
  }
}

function paused(record: TargetHealth, now: number, policy: TargetHealthPolicy): TargetHealth {
  return {
    ...enter(record, 'paused', now),
    outage_since: record.outage_since ?? now,
    probe_interval_ms: policy.probeIntervalMs,
    next_probe_at: now + policy.probeIntervalMs,
  };
}

function pauseIfDue(record: TargetHealth, now: number, policy: TargetHealthPolicy): Transition {
  if (record.state === 'failing' && record.failing_since !== undefined && now - record.failing_since >= policy.pauseAfterMs)
    return { record: paused(record, now, policy), event: 'target.paused' };
  return { record };
}

export interface TickFacts {
  now: number;
  /** Deliveries held for the target now. */
  held: number;
}

/**
 * What time alone does (run by one worker at a time): a failing target with no success for TARGET_PAUSE_AFTER is
 * paused; a recovering one with nothing held any more is healthy. `probe`: a held delivery should go out now.
 */
export function afterTick(record: TargetHealth, facts: TickFacts, policy: TargetHealthPolicy): Transition & { probe?: boolean } {
  if (record.state === 'failing') return pauseIfDue(record, facts.now, policy);
  if (record.state === 'recovering' && facts.held === 0) {
    const { outage_since: _o, ...rest } = enter(record, 'healthy', facts.now);
    return { record: rest };
  }
  if (record.state === 'paused' && !record.operator && facts.held > 0 && facts.now >= (record.next_probe_at ?? 0))
    return { record, probe: true };
  return { record };
}

/** The probe chosen: sent for real by its job; the next one not before one interval. */
export function withProbe(record: TargetHealth, jobId: string, now: number, policy: TargetHealthPolicy): TargetHealth {
  const interval = record.probe_interval_ms ?? policy.probeIntervalMs;
  return { ...record, probe_job: jobId, next_probe_at: now + interval };
}

export const OPERATOR_ACTIONS = ['pause', 'resume', 'release', 'discard'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** `pause` holds everything until `resume`; `release` (« Libérer maintenant ») resumes at once, without a probe. */
export function afterOperator(record: TargetHealth, action: OperatorAction, now: number): Transition | { refused: 'not_paused' } {
  switch (action) {
    case 'pause':
      return {
        record: { ...enter(record, 'paused', now), operator: true, outage_since: record.outage_since ?? now },
        event: 'target.paused',
      };
    case 'resume':
    case 'release':
      if (record.state === 'healthy' || record.state === 'recovering') return { record };
      return { record: { ...enter(record, 'recovering', now), failures: 0 }, event: 'target.recovered' };
    case 'discard':
      if (record.state !== 'paused') return { refused: 'not_paused' };
      return { record: { ...record, discard_before: now } };
  }
}

export type JobDecision =
  | { send: true }
  | { send: false; hold: true; untilMs: number }
  | { send: false; hold: false; reason: 'discarded_by_operator' | 'target_paused_too_long' };

/** A delivery job about to send: sent unless its target is paused (held, or dead-lettered when discarded or too old). */
export function jobDecision(
  record: TargetHealth | undefined,
  job: { jobId: string; arrivedAt: number; now: number },
  policy: Pick<TargetHealthPolicy, 'holdMaxMs'>,
): JobDecision {
  if (!record || record.state !== 'paused') return { send: true };
  if (record.discard_before !== undefined && job.arrivedAt <= record.discard_before)
    return { send: false, hold: false, reason: 'discarded_by_operator' };
  if (job.now - job.arrivedAt >= policy.holdMaxMs) return { send: false, hold: false, reason: 'target_paused_too_long' };
  if (!record.operator && record.probe_job === job.jobId) return { send: true };
  return { send: false, hold: true, untilMs: job.arrivedAt + policy.holdMaxMs };
}

/** The alert of a transition: its data, and a job id unique per transition (a second enqueue of it is a no-op). */
export function transitionAlert(
  event: TargetEvent,
  record: TargetHealth,
  facts: { held: number; previous: TargetHealth },
): { jobId: string; data: SendAlertJob } {
  const since = record.outage_since ?? facts.previous.outage_since;
  return {
    jobId: `${record.id}.${event}.${record.version}`,
    data: {
      event,
      at: record.since,
      target_id: record.id,
      target: record.target,
      state: record.state,
      held: facts.held,
      ...(since !== undefined ? { since } : {}),
      operator: record.operator || facts.previous.operator,
      ...(record.last_error ? { last_error: record.last_error } : {}),
    },
  };
}

/** What the operator sees of a target (API, dashboard, CLI). */
export interface TargetHealthView {
  id: string;
  target: string;
  origin: string | null;
  state: TargetState;
  since: string;
  operator: boolean;
  failures: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: TargetHealth['last_error'] | null;
  held: number;
  oldest_held_at: string | null;
  next_probe_at: string | null;
  /** Percent of attempts that succeeded (null: no attempt in the period). */
  success_rate_1h: number | null;
  success_rate_24h: number | null;
  attempts_1h: number;
  attempts_24h: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const rate = (c: { ok: number; failed: number }) => (c.ok + c.failed === 0 ? null : Math.round((c.ok / (c.ok + c.failed)) * 1000) / 10);

export function targetHealthView(
  record: TargetHealth,
  facts: {
    held: number;
    oldestHeldAt?: number | undefined;
    counts: { hour: { ok: number; failed: number }; day: { ok: number; failed: number } };
  },
): TargetHealthView {
  return {
    id: record.id,
    target: record.target,
    origin: record.origin ?? null,
    state: record.state,
    since: new Date(record.since).toISOString(),
    operator: record.operator,
    failures: record.failures,
    last_success_at: iso(record.last_success_at),
    last_failure_at: iso(record.last_failure_at),
    last_error: record.last_error ?? null,
    held: facts.held,
    oldest_held_at: iso(facts.oldestHeldAt),
    next_probe_at: record.state === 'paused' && !record.operator ? iso(record.next_probe_at) : null,
    success_rate_1h: rate(facts.counts.hour),
    success_rate_24h: rate(facts.counts.day),
    attempts_1h: facts.counts.hour.ok + facts.counts.hour.failed,
    attempts_24h: facts.counts.day.ok + facts.counts.day.failed,
  };
}
