import type { DeliverWebhookJob } from '@render-signal/contracts';
import {
  PermanentDeliveryError,
  RetryableDeliveryError,
  type DeliverySuccess,
  type PayloadRenderer,
  type TargetHealthMonitor,
  type TargetState,
  type WebhookDeliverer,
  type WebhookLog,
  type WebhookLogEntry,
} from '@render-signal/delivery';
import { attemptEvent, type JourneyRecorder } from '@render-signal/journeys';
import { maskUrl, type Logger, type WorkerMetrics } from '@render-signal/observability';

export interface DeliveryAttemptDeps {
  metrics: WorkerMetrics;
  deliverer: WebhookDeliverer;
  webhookLog: WebhookLog;
  /** The signing secret in force (rotated from the dashboard, else env WEBHOOK_SECRET). */
  secret(): Promise<string | undefined>;
  /** Renders flat and template bodies (compiled templates cached, evaluation bounded). */
  renderer?: PayloadRenderer;
  /** The email's journey (dashboard): one event per attempt of an email delivery, batched, never awaited. */
  journeys?: JourneyRecorder | undefined;
  /** Destination health: every attempt's outcome is reported (a success on a healthy target costs nothing). */
  targetHealth?: Pick<TargetHealthMonitor, 'observe'> | undefined;
  now?: () => number;
}

/** One attempt to deliver one webhook, whichever path makes it. */
export interface DeliveryAttempt {
  delivery: Pick<DeliverWebhookJob, 'email_id' | 'accepted_at' | 'webhook_id' | 'target' | 'subject' | 'kind'>;
  /**
   * The exact bytes to POST (serialised once, where the payload was built or read), or for a flat / template
   * target how to render them (`attemptBody`): a rendering failure is this attempt's `template_error`.
   */
  body: Buffer | (() => Promise<Buffer>);
  /** 1-based, counting the fast path's attempt. */
  attempt: number;
  maxAttempts: number;
  /** `fast`: inside the email job (one target, no offload); `job`: a delivery job. */
  path: 'fast' | 'job';
  /** The BullMQ job that made the attempt (the delivery job's id; the webhook id on the fast path). */
  jobId?: string | undefined;
}

export type AttemptOutcome = (
  | { ok: true; result: DeliverySuccess; endToEndMs: number }
  | { ok: false; error: RetryableDeliveryError | PermanentDeliveryError; final: boolean }
) & { /** The target's health after this attempt (when tracked). */ targetState?: TargetState };

/**
 * Sends one attempt and records it: the webhook log entry, the metrics and, for a failure, its log line.
 * The one recording point of a delivery attempt, for the fast path and delivery jobs alike: whatever else
 * wants every attempt (a journey recorder…) hooks in at `recordAttempt`. A success's log line is the
 * caller's (one line per email on the fast path). Errors other than a delivery failure are thrown.
 */
export async function attemptDelivery(attempt: DeliveryAttempt, deps: DeliveryAttemptDeps, log: Logger): Promise<AttemptOutcome> {
  const { target, webhook_id } = attempt.delivery;
  // The bytes sent and signed: rendered here for a flat / template target (recorded with their real size).
  let sent: DeliveryAttempt & { body: Buffer } = { ...attempt, body: Buffer.alloc(0) };
  try {
    sent = { ...attempt, body: typeof attempt.body === 'function' ? await attempt.body() : attempt.body };
    const secret = await deps.secret();
    const result = await deps.deliverer.deliverWebhook({
      target,
      webhookId: webhook_id,
      body: sent.body,
      ...(secret ? { secret } : {}),
    });
    const outcome: AttemptOutcome = { ok: true, result, endToEndMs: (deps.now?.() ?? Date.now()) - attempt.delivery.accepted_at };
    await recordAttempt(sent, outcome, deps, log);
    return withTargetState(attempt, outcome, deps, log);
  } catch (error) {
    if (!(error instanceof RetryableDeliveryError) && !(error instanceof PermanentDeliveryError)) throw error;
    const outcome: AttemptOutcome = {
      ok: false,
      error,
      final: error instanceof PermanentDeliveryError || attempt.attempt >= attempt.maxAttempts,
    };
    await recordAttempt(sent, outcome, deps, log);
    return withTargetState(attempt, outcome, deps, log);
  }
}

/** Reports the attempt to destination health; a Redis failure there never fails the delivery made. */
async function withTargetState(
  attempt: DeliveryAttempt,
  outcome: AttemptOutcome,
  deps: DeliveryAttemptDeps,
  log: Logger,
): Promise<AttemptOutcome> {
  if (!deps.targetHealth) return outcome;
  const report = outcome.ok
    ? { ok: true as const, jobId: attempt.jobId }
    : {
        ok: false as const,
        jobId: attempt.jobId ?? attempt.delivery.webhook_id,
        status: outcome.error.facts.status,
        reason: outcome.error.facts.failure_reason,
        excerpt: outcome.error.facts.response_excerpt,
      };
  const job = {
    jobId: attempt.jobId ?? attempt.delivery.webhook_id,
    arrivedAt: attempt.delivery.accepted_at,
    origin: attempt.delivery.target.origin,
  };
  try {
    return { ...outcome, targetState: await deps.targetHealth.observe(attempt.delivery.target.url, report, job) };
  } catch (error) {
    log.warn('target_health.write_failed', { error: error instanceof Error ? error.message : String(error) });
    return outcome;
  }
}

/** Webhook log + metrics (+ the failure's log line) for one attempt. */
export async function recordAttempt(
  attempt: DeliveryAttempt & { body: Buffer },
  outcome: AttemptOutcome,
  deps: DeliveryAttemptDeps,
  log: Logger,
): Promise<void> {
  const { delivery } = attempt;
  const host = hostOf(delivery.target.url);
  if (deps.journeys && delivery.kind === 'email') {
    const at = deps.now?.() ?? Date.now();
    const common = {
      webhookId: delivery.webhook_id,
      jobId: attempt.jobId ?? delivery.webhook_id,
      attempt: attempt.attempt,
      maxAttempts: attempt.maxAttempts,
      now: at,
    };
    deps.journeys.record(
      delivery.email_id,
      outcome.ok
        ? attemptEvent({
            ...common,
            outcome: 'delivered',
            status: outcome.result.status,
            durationMs: outcome.result.duration_ms,
            responseExcerpt: outcome.result.response_excerpt,
            endToEndMs: outcome.endToEndMs,
          })
        : attemptEvent({
            ...common,
            outcome: outcome.final ? 'failed' : 'retrying',
            status: outcome.error.facts.status,
            durationMs: outcome.error.facts.duration_ms,
            failureReason: outcome.error.facts.failure_reason,
            responseExcerpt: outcome.error.facts.response_excerpt,
          }),
    );
  }
  const entryBase: Omit<WebhookLogEntry, 'id' | 'timestamp' | 'status' | 'status_code'> = {
    type: delivery.kind === 'email' ? 'custom' : delivery.kind,
    email_id: delivery.email_id,
    webhook_url: maskUrl(delivery.target.url),
    subject: delivery.subject,
    delivery_mode: delivery.target.mode,
    payload_size_bytes: attempt.body.length,
    attempt: attempt.attempt,
    max_attempts: attempt.maxAttempts,
    target_origin: delivery.target.origin,
    webhook_id: delivery.webhook_id,
  };
  if (outcome.ok) {
    const { result } = outcome;
    deps.metrics.deliveryAttempts.inc({ outcome: 'delivered', target_host: host, failure_reason: '', path: attempt.path });
    deps.metrics.deliveryDuration.observe({ outcome: 'delivered' }, result.duration_ms / 1000);
    if (delivery.kind === 'email') deps.metrics.endToEnd.observe(outcome.endToEndMs / 1000);
    appendLog(deps, log, {
      ...entryBase,
      status: 'success',
      status_code: result.status,
      attempted_delivery_modes: result.attempted_modes,
      fallback_used: result.fallback_used,
      duration_ms: result.duration_ms,
      final: true,
    });
    return;
  }
  const { error, final } = outcome;
  const facts = error.facts;
  deps.metrics.deliveryAttempts.inc({
    outcome: final ? 'failed' : 'retrying',
    target_host: host,
    failure_reason: facts.failure_reason,
    path: attempt.path,
  });
  deps.metrics.deliveryDuration.observe({ outcome: 'failed' }, facts.duration_ms / 1000);
  appendLog(deps, log, {
    ...entryBase,
    status: 'error',
    status_code: facts.status ?? null,
    error_message: error.message,
    response_snippet: facts.response_excerpt,
    failure_reason: facts.failure_reason,
    duration_ms: facts.duration_ms,
    final,
  });
  // A final failure is announced by the delivery job that holds it (`delivery.dead_lettered`), also after the fast path.
  if (!final || attempt.path === 'fast')
    log.warn('delivery.failed', {
      status: facts.status,
      failure_reason: facts.failure_reason,
      duration_ms: facts.duration_ms,
      response: facts.response_excerpt,
      retry_after_ms: facts.retry_after_ms,
      permanent: error instanceof PermanentDeliveryError,
      path: attempt.path,
    });
}

/**
 * The attempt's webhook log entry, not awaited: the log writes 10 ms of entries at once, and neither the email
 * job nor the delivery job waits for it (a Redis hiccup there must not fail, and so repeat, a delivery made).
 */
function appendLog(deps: Pick<DeliveryAttemptDeps, 'webhookLog'>, log: Logger, entry: Parameters<WebhookLog['append']>[0]): void {
  deps.webhookLog.append(entry).catch((error: unknown) => {
    log.warn('webhook_log.write_failed', { error: error instanceof Error ? error.message : String(error) });
  });
}

/** Hosts by URL: a worker's few target URLs are looked up several times per delivery (gate, metrics). */
const hosts = new Map<string, string>();
const HOSTS_MAX = 1_024;

/** `host[:port]` of a target URL (`invalid` when it does not parse); the gate's per-host slots and the metrics' label. */
export function hostOf(url: string): string {
  let host = hosts.get(url);
  if (host !== undefined) return host;
  try {
    host = new URL(url).host;
  } catch {
    host = 'invalid';
  }
  if (hosts.size >= HOSTS_MAX) hosts.clear();
  hosts.set(url, host);
  return host;
}
