import { z } from 'zod';
import type { ArrivalSource, EventOf, JourneyEvent, RuleFact } from './events';

/**
 * From events to what an operator reads: each email's status, its per-target state, and the whole
 * journey. Pure: the store reads, these functions decide.
 */

export const EMAIL_STATUSES = ['in_progress', 'retrying', 'delivered', 'failed', 'skipped', 'filtered'] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

export const TARGET_STATES = ['pending', 'retrying', 'delivered', 'failed', 'cancelled'] as const;
export type TargetState = (typeof TARGET_STATES)[number];

/**
 * Summary fields written for an event (a Redis hash per email, what the list and search read).
 * A name starting with `?` is set only when absent (a planned target never overwrites an attempt that
 * was stored first); other names are set.
 */
export function summaryFields(event: JourneyEvent): Array<[string, string]> {
  switch (event.type) {
    case 'received':
      return [
        ['received_at', String(event.accepted_at)],
        ['subject', event.subject],
        ['sender', event.sender],
        ['source', event.source],
      ];
    case 'planned':
      return [['detector', event.detector ?? ''], ...event.targets.map((t): [string, string] => [`?t:${t.webhook_id}`, 'pending'])];
    case 'skipped':
      return [
        ['detector', event.detector ?? ''],
        ['skip', event.kind],
        ['skip_reason', event.reason],
      ];
    case 'dispatched':
      return event.deliveries.map((d): [string, string] => [`?t:${d.webhook_id}`, 'pending']);
    case 'attempt':
      return [[`t:${event.webhook_id}`, event.outcome === 'delivered' ? 'delivered' : event.outcome]];
    case 'redelivered':
      return event.deliveries.map((d): [string, string] => [`t:${d.webhook_id}`, 'pending']);
    case 'cancelled':
      return event.jobs.map((j): [string, string] => [`t:${j.webhook_id}`, 'cancelled']);
    case 'offload':
    case 'retry_scheduled':
    case 'held':
    case 'sent':
      return [];
  }
}

/** The summary hash as read back (validated: a field that is not what we wrote is dropped). */
export const summaryHashSchema = z.record(z.string(), z.string()).transform((hash) => {
  const targets: Record<string, TargetState> = {};
  for (const [key, value] of Object.entries(hash)) {
    if (key.startsWith('t:') && (TARGET_STATES as readonly string[]).includes(value)) targets[key.slice(2)] = value as TargetState;
  }
  const receivedAt = Number(hash.received_at);
  const skip = hash.skip;
  const source = hash.source;
  return {
    received_at: Number.isFinite(receivedAt) && receivedAt > 0 ? receivedAt : null,
    subject: hash.subject ?? '',
    sender: hash.sender ?? '',
    source: source === 'gmail_push' || source === 'apps_script' ? (source as ArrivalSource) : null,
    detector: hash.detector ? hash.detector : null,
    skip: skip === 'skipped' || skip === 'filtered' || skip === 'failed' ? (skip as 'skipped' | 'filtered' | 'failed') : null,
    skip_reason: hash.skip_reason ?? null,
    targets,
  };
});
export type EmailSummaryHash = z.output<typeof summaryHashSchema>;

/** One status per email, from its skip (if any) and its targets' states. */
export function emailStatus(skip: 'skipped' | 'filtered' | 'failed' | null, targetStates: readonly TargetState[]): EmailStatus {
  if (skip) return skip;
  if (targetStates.length === 0) return 'in_progress';
  if (targetStates.includes('retrying')) return 'retrying';
  if (targetStates.includes('pending')) return 'in_progress';
  if (targetStates.every((s) => s === 'delivered')) return 'delivered';
  return 'failed';
}

export interface EmailListItem {
  email_id: string;
  received_at: string | null;
  source: ArrivalSource | null;
  subject: string;
  sender: string;
  detector: string | null;
  status: EmailStatus;
  skip_reason: string | null;
  targets: { total: number; delivered: number; failed: number };
}

export function listItem(emailId: string, summary: EmailSummaryHash): EmailListItem {
  const states = Object.values(summary.targets);
  return {
    email_id: emailId,
    received_at: summary.received_at ? new Date(summary.received_at).toISOString() : null,
    source: summary.source,
    subject: summary.subject,
    sender: summary.sender,
    detector: summary.detector,
    status: emailStatus(summary.skip, states),
    skip_reason: summary.skip_reason,
    targets: {
      total: states.length,
      delivered: states.filter((s) => s === 'delivered').length,
      failed: states.filter((s) => s === 'failed' || s === 'cancelled').length,
    },
  };
}

export interface EmailFilter {
  /** Words that must all appear in the subject, the sender or the email_id (case and accents ignored). */
  words: string[];
  status?: EmailStatus | undefined;
  detector?: string | undefined;
  /** Epoch ms bounds on the arrival time (inclusive). */
  since?: number | undefined;
  until?: number | undefined;
}

/** Lower case without accents: "Équipe" finds "equipe". */
export function foldText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

export function parseQueryWords(query: string | undefined): string[] {
  return foldText(query ?? '')
    .split(/[\s,;]+/)
    .map((w) => w.trim())
    .filter(Boolean)
    .slice(0, 20);
}

export function matchesFilter(item: EmailListItem, filter: EmailFilter): boolean {
  if (filter.status && item.status !== filter.status) return false;
  if (filter.detector && (item.detector ?? 'none') !== filter.detector) return false;
  const at = item.received_at ? Date.parse(item.received_at) : null;
  if (filter.since !== undefined && (at === null || at < filter.since)) return false;
  if (filter.until !== undefined && (at === null || at > filter.until)) return false;
  if (filter.words.length > 0) {
    const haystack = foldText(`${item.subject}\n${item.sender}\n${item.email_id}`);
    if (!filter.words.every((w) => haystack.includes(w))) return false;
  }
  return true;
}

export type AttemptView = Omit<EventOf<'attempt'>, 'type' | 'at' | 'webhook_id'> & { at: string };

export interface TargetView {
  webhook_id: string;
  /** Masked. */
  target: string;
  origin: string;
  priority: number | null;
  state: TargetState;
  /** When the next automatic attempt is due (a retry scheduled and not yet run), else null. */
  next_attempt_at: string | null;
  /** Since when the delivery is held because its target is paused (null once sent, cancelled or re-delivered). */
  held_since: string | null;
  /** The exact body signed and sent (null before the delivery was planned). */
  payload: string | null;
  job_ids: string[];
  attempts: AttemptView[];
}

export interface JourneyView {
  email_id: string;
  status: EmailStatus;
  received: { at: string; accepted_at: string; source: ArrivalSource; subject: string; sender: string; job_id: string | null } | null;
  detection: { detector: string | null; delivery_time: string | null; is_urgent: boolean | null } | null;
  window: { reason: string; send: boolean } | null;
  rules: RuleFact[];
  stopped_by: string | null;
  skip: { reason: string; detail: string | null; kind: 'skipped' | 'filtered' | 'failed' } | null;
  links: Array<{ provider: string; raw_url: string; offload: { outcome: string; reason: string | null; detail: string | null } | null }>;
  targets: TargetView[];
  /** Every event in order, without the stored bodies and real target URLs. */
  timeline: Array<{ at: string; type: JourneyEvent['type']; detail: Record<string, unknown> }>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The journey from its events (in the order they were stored). */
export function foldJourney(emailId: string, events: readonly JourneyEvent[]): JourneyView {
  const view: JourneyView = {
    email_id: emailId,
    status: 'in_progress',
    received: null,
    detection: null,
    window: null,
    rules: [],
    stopped_by: null,
    skip: null,
    links: [],
    targets: [],
    timeline: [],
  };
  const targets = new Map<string, TargetView>();
  const target = (webhookId: string): TargetView => {
    let t = targets.get(webhookId);
    if (!t) {
      t = {
        webhook_id: webhookId,
        target: '***',
        origin: '',
        priority: null,
        state: 'pending',
        next_attempt_at: null,
        held_since: null,
        payload: null,
        job_ids: [],
        attempts: [],
      };
      targets.set(webhookId, t);
    }
    return t;
  };
  const addJob = (t: TargetView, jobId: string) => {
    if (!t.job_ids.includes(jobId)) t.job_ids.push(jobId);
  };
  for (const event of events) {
    switch (event.type) {
      case 'received':
        view.received = {
          at: iso(event.at),
          accepted_at: iso(event.accepted_at),
          source: event.source,
          subject: event.subject,
          sender: event.sender,
          job_id: event.job_id,
        };
        view.timeline.push({ at: iso(event.accepted_at), type: event.type, detail: { source: event.source } });
        break;
      case 'planned':
      case 'skipped':
        view.detection = { detector: event.detector, delivery_time: event.delivery_time, is_urgent: event.is_urgent ?? null };
        view.window = event.window;
        view.rules = event.rules;
        if (event.type === 'planned') {
          view.stopped_by = event.stopped_by;
          view.links = event.links.map((l) => ({ ...l, offload: null }));
          for (const planned of event.targets) {
            const t = target(planned.webhook_id);
            t.target = planned.target;
            t.origin = planned.origin;
            t.priority = planned.priority;
          }
          view.timeline.push({
            at: iso(event.at),
            type: event.type,
            detail: { targets: event.targets.length, offloading: event.offloading },
          });
        } else {
          view.skip = { reason: event.reason, detail: event.detail, kind: event.kind };
          view.timeline.push({ at: iso(event.at), type: event.type, detail: { reason: event.reason, detail: event.detail } });
        }
        break;
      case 'offload':
        for (const link of event.links) {
          const entry = view.links[link.index];
          if (entry) entry.offload = { outcome: link.outcome, reason: link.reason, detail: link.detail };
        }
        view.timeline.push({ at: iso(event.at), type: event.type, detail: { links: event.links.map((l) => l.outcome) } });
        break;
      case 'dispatched':
        for (const d of event.deliveries) {
          const t = target(d.webhook_id);
          t.origin = t.origin || d.origin;
          t.priority ??= d.priority;
          if (t.target === '***') t.target = d.target;
          addJob(t, d.job_id);
        }
        view.timeline.push({ at: iso(event.at), type: event.type, detail: { deliveries: event.deliveries.length } });
        break;
      case 'attempt': {
        const t = target(event.webhook_id);
        const { type: _type, at, webhook_id: _wid, ...rest } = event;
        t.attempts.push({ ...rest, at: iso(at) });
        t.state = event.outcome;
        t.next_attempt_at = null;
        t.held_since = null;
        addJob(t, event.job_id);
        view.timeline.push({
          at: iso(at),
          type: event.type,
          detail: { webhook_id: event.webhook_id, attempt: event.attempt, outcome: event.outcome, status_code: event.status_code },
        });
        break;
      }
      case 'retry_scheduled': {
        const t = target(event.webhook_id);
        if (t.state === 'retrying') t.next_attempt_at = iso(event.next_attempt_at);
        view.timeline.push({
          at: iso(event.at),
          type: event.type,
          detail: { webhook_id: event.webhook_id, next_attempt_at: iso(event.next_attempt_at) },
        });
        break;
      }
      case 'held': {
        const t = target(event.webhook_id);
        t.held_since ??= iso(event.at);
        t.next_attempt_at = null;
        addJob(t, event.job_id);
        view.timeline.push({ at: iso(event.at), type: event.type, detail: { webhook_id: event.webhook_id } });
        break;
      }
      case 'redelivered':
        for (const d of event.deliveries) {
          const t = target(d.webhook_id);
          t.state = 'pending';
          t.next_attempt_at = null;
          t.held_since = null;
          addJob(t, d.job_id);
        }
        view.timeline.push({ at: iso(event.at), type: event.type, detail: { webhook_ids: event.deliveries.map((d) => d.webhook_id) } });
        break;
      case 'cancelled':
        for (const j of event.jobs) {
          const t = target(j.webhook_id);
          t.state = 'cancelled';
          t.next_attempt_at = null;
          t.held_since = null;
        }
        view.timeline.push({ at: iso(event.at), type: event.type, detail: { jobs: event.jobs.length } });
        break;
      case 'sent':
        // The real target URL and the body: read by the API's accessor only (sentDeliveries), never in the view.
        break;
    }
  }
  view.targets = [...targets.values()];
  view.status = emailStatus(
    view.skip?.kind ?? null,
    view.targets.map((t) => t.state),
  );
  return view;
}

/**
 * What the email job sent itself (fast path), by webhook id: the target with its real URL and the exact payload.
 * For the API's one accessor of "what was sent" (payload view, re-delivery); never shown as such.
 */
export function sentDeliveries(events: readonly JourneyEvent[]): Map<string, EventOf<'sent'>> {
  const out = new Map<string, EventOf<'sent'>>();
  for (const event of events) if (event.type === 'sent') out.set(event.webhook_id, event);
  return out;
}
