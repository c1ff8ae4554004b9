import type { DeliveryTarget, PayloadSettings } from '@render-signal/contracts';
import { maskUrl } from '@render-signal/observability';
import { EXCERPT_MAX_BYTES, type ArrivalSource, type ConditionFact, type EventOf, type RuleFact } from './events';

/**
 * Pure builders of journey events from what the pipeline already has in hand (the plan, the attempt's
 * facts): the processors call one of these where they write their webhook log entry or log line.
 */

/** The shape of a routing rule's evaluation (routing's RuleMatch), kept structural so this package stays below routing. */
export interface RuleMatchLike {
  id: string;
  name: string;
  enabled: boolean;
  match: 'all' | 'any';
  matched: boolean;
  reached: boolean;
  applied: boolean;
  conditions: ReadonlyArray<{ field: string; operator: string; value: string; matched: boolean }>;
}

/**
 * The condition that decided a rule: for `all`, the first one that failed (or the last one when all held);
 * for `any`, the first one that held (or the last one when none did). Null for a disabled rule or no conditions.
 */
export function decidingCondition(rule: RuleMatchLike): ConditionFact | null {
  if (!rule.enabled || rule.conditions.length === 0) return null;
  const pick = rule.match === 'all' ? rule.conditions.find((c) => !c.matched) : rule.conditions.find((c) => c.matched);
  const chosen = pick ?? rule.conditions[rule.conditions.length - 1]!;
  return { field: chosen.field, operator: chosen.operator, value: chosen.value, matched: chosen.matched };
}

export function ruleFacts(matches: readonly RuleMatchLike[] | undefined): RuleFact[] {
  return (matches ?? []).map((rule) => ({
    id: rule.id,
    name: rule.name,
    enabled: rule.enabled,
    match: rule.match,
    matched: rule.matched,
    reached: rule.reached,
    applied: rule.applied,
    deciding: decidingCondition(rule),
  }));
}

export function receivedEvent(input: {
  jobId: string | undefined;
  acceptedAt: number;
  source: ArrivalSource | undefined;
  subject: string;
  sender: string;
  now: number;
}): EventOf<'received'> {
  return {
    type: 'received',
    at: input.now,
    accepted_at: input.acceptedAt,
    source: input.source ?? 'apps_script',
    job_id: input.jobId ?? null,
    subject: input.subject,
    sender: input.sender,
  };
}

interface DetectionLike {
  detector: string | null;
  delivery_time?: string;
  is_urgent?: boolean;
}

function detectionFields(detection: DetectionLike) {
  return {
    detector: detection.detector,
    delivery_time: detection.delivery_time ?? null,
    ...(detection.is_urgent !== undefined ? { is_urgent: detection.is_urgent } : {}),
  };
}

export function plannedEvent(input: {
  detection: DetectionLike;
  windowVerdict: string | undefined;
  matches: readonly RuleMatchLike[] | undefined;
  stoppedBy: string | null | undefined;
  links: ReadonlyArray<{ provider: string; raw_url: string }>;
  targets: ReadonlyArray<{ webhookId: string; url: string; origin: string; priority: number }>;
  offloading: number;
  now: number;
}): EventOf<'planned'> {
  return {
    type: 'planned',
    at: input.now,
    ...detectionFields(input.detection),
    window: { reason: input.windowVerdict ?? 'no_window', send: true },
    rules: ruleFacts(input.matches),
    stopped_by: input.stoppedBy ?? null,
    links: input.links.map((l) => ({ provider: l.provider, raw_url: l.raw_url })),
    targets: input.targets.map((t) => ({
      webhook_id: t.webhookId,
      target: maskUrl(t.url) ?? '***',
      origin: t.origin,
      priority: t.priority,
    })),
    offloading: input.offloading,
  };
}

/** How a skipped email is counted and shown. */
export function skipKind(reason: string): 'skipped' | 'filtered' | 'failed' {
  if (reason === 'outside_time_window') return 'skipped';
  if (reason === 'no_target') return 'failed';
  return 'filtered';
}

export function skippedEvent(input: {
  detection: DetectionLike;
  reason: string;
  detail: string | undefined;
  matches: readonly RuleMatchLike[] | undefined;
  now: number;
}): EventOf<'skipped'> {
  const windowDecided = input.reason !== 'outside_time_window' && input.reason !== 'excluded_keyword' && input.reason !== 'too_large';
  return {
    type: 'skipped',
    at: input.now,
    ...detectionFields(input.detection),
    window:
      input.reason === 'outside_time_window'
        ? { reason: input.detail ?? 'outside_window', send: false }
        : windowDecided
          ? { reason: 'sent', send: true }
          : null,
    rules: ruleFacts(input.matches),
    reason: input.reason,
    detail: input.detail ?? null,
    kind: skipKind(input.reason),
  };
}

/** Offload results per link: ok + cached → cached, ok → transferred, else failed with its reason. */
export function offloadEvent(input: {
  links: ReadonlyArray<{ provider: string }>;
  results: ReadonlyMap<
    number,
    { ok: true; cached: boolean } | { ok: false; reason: string; detail?: string } | { ok: boolean; cached?: boolean; reason?: string }
  >;
  offloaded: readonly number[];
  now: number;
}): EventOf<'offload'> {
  return {
    type: 'offload',
    at: input.now,
    links: input.offloaded.map((index) => {
      const result = input.results.get(index);
      const provider = input.links[index]?.provider ?? 'unknown';
      if (!result) return { index, provider, outcome: 'not_finished' as const, reason: null, detail: null };
      if (result.ok)
        return {
          index,
          provider,
          outcome: 'cached' in result && result.cached ? ('cached' as const) : ('transferred' as const),
          reason: null,
          detail: null,
        };
      const failed = result as { reason?: string; detail?: string };
      return { index, provider, outcome: 'failed' as const, reason: failed.reason ?? 'unknown', detail: failed.detail ?? null };
    }),
  };
}

export function dispatchedEvent(input: {
  deliveries: ReadonlyArray<{ webhookId: string; jobId: string; target: Pick<DeliveryTarget, 'url' | 'origin'>; priority: number }>;
  now: number;
}): EventOf<'dispatched'> {
  return {
    type: 'dispatched',
    at: input.now,
    deliveries: input.deliveries.map((d) => ({
      webhook_id: d.webhookId,
      job_id: d.jobId,
      target: maskUrl(d.target.url) ?? '***',
      origin: d.target.origin,
      priority: d.priority,
    })),
  };
}

/** A delivery made by the email job itself (fast path), kept for the payload view and re-delivery. */
export function sentEvent(input: {
  webhookId: string;
  target: DeliveryTarget;
  payload: Record<string, unknown>;
  retryFloorMs?: number | undefined;
  payloadFormat?: PayloadSettings | undefined;
  extracted?: Record<string, string> | undefined;
  now: number;
}): EventOf<'sent'> {
  return {
    type: 'sent',
    at: input.now,
    webhook_id: input.webhookId,
    target: input.target,
    payload: input.payload,
    ...(input.retryFloorMs !== undefined ? { retry_floor_ms: input.retryFloorMs } : {}),
    ...(input.payloadFormat ? { payload_format: input.payloadFormat } : {}),
    ...(input.extracted ? { extracted: input.extracted } : {}),
  };
}

/** At most EXCERPT_MAX_BYTES of UTF-8 (never a broken character). */
export function clipExcerpt(text: string | undefined | null): string | null {
  if (text === undefined || text === null) return null;
  if (text.length <= EXCERPT_MAX_BYTES / 4 || Buffer.byteLength(text, 'utf8') <= EXCERPT_MAX_BYTES) return text;
  let out = text.slice(0, EXCERPT_MAX_BYTES);
  while (Buffer.byteLength(out, 'utf8') > EXCERPT_MAX_BYTES) out = out.slice(0, -1);
  return out;
}

export function attemptEvent(input: {
  webhookId: string;
  jobId: string;
  attempt: number;
  maxAttempts: number;
  outcome: 'delivered' | 'retrying' | 'failed';
  status: number | null | undefined;
  durationMs: number;
  failureReason?: string | undefined;
  responseExcerpt?: string | undefined;
  endToEndMs?: number | undefined;
  now: number;
}): EventOf<'attempt'> {
  return {
    type: 'attempt',
    at: input.now,
    webhook_id: input.webhookId,
    job_id: input.jobId,
    attempt: input.attempt,
    max_attempts: input.maxAttempts,
    outcome: input.outcome,
    status_code: input.status ?? null,
    duration_ms: Math.max(0, input.durationMs),
    failure_reason: input.failureReason ?? null,
    response_excerpt: clipExcerpt(input.responseExcerpt),
    end_to_end_ms: input.endToEndMs === undefined ? null : Math.max(0, input.endToEndMs),
    // Re-deliveries run as their own job (`<webhook_id>.r…`) with the same webhook-id.
    redelivery: input.jobId !== input.webhookId,
  };
}
