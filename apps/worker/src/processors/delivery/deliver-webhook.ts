import { DelayedError, type Job } from 'bullmq';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import {
  PermanentDeliveryError,
  RetryableDeliveryError,
  type AttemptFacts,
  type DeliverySuccess,
  type WebhookDeliverer,
  type WebhookLog,
} from '@render-signal/delivery';
import { attemptEvent, type JourneyRecorder } from '@render-signal/journeys';
import { maskUrl, type Logger, type WorkerMetrics } from '@render-signal/observability';
import type { TargetGate } from '../../pipeline/target-gate';

export interface DeliverWebhookDeps {
  logger: Logger;
  metrics: WorkerMetrics;
  deliverer: WebhookDeliverer;
  webhookLog: WebhookLog;
  /** Per-target admission: in-flight cap and the hourly rate limit; answers how long to wait when full. */
  gate: TargetGate;
  /** The signing secret in force (rotated from the dashboard, else env WEBHOOK_SECRET). */
  secret(): Promise<string | undefined>;
  /** Called once when a delivery of an email is dead-lettered (notify_on_failure). */
  onDeadLetter?(job: Job<DeliverWebhookJob>, facts: AttemptFacts): Promise<void>;
  /** The email's journey: one event per attempt of an email delivery, batched, never awaited. */
  journeys?: JourneyRecorder;
  now?: () => number;
}

/**
 * The `delivery.deliver` job: one POST to one target. Every attempt goes to the webhook log, and every
 * attempt of a job that needed more than one to its job log (status, duration, response excerpt), so the
 * dead-letter set explains itself.
 */
export async function deliverWebhookJob(
  job: Job<DeliverWebhookJob>,
  token: string | undefined,
  deps: DeliverWebhookDeps,
): Promise<DeliverySuccess> {
  const { email_id, webhook_id, target, payload } = job.data;
  const attempt = job.attemptsMade + 1;
  const maxAttempts = job.opts.attempts ?? 1;
  const log = deps.logger.child({ email_id, webhook_id, target: maskUrl(target.url), origin: target.origin, attempt });

  const admission = await deps.gate.admit(target.url, Boolean(token));
  if (!admission.admitted && token) {
    // Delayed, never dropped: the job waits its turn without spending an attempt.
    log.debug('delivery.deferred', { reason: admission.reason, wait_ms: admission.waitMs });
    await job.moveToDelayed((deps.now?.() ?? Date.now()) + admission.waitMs, token);
    throw new DelayedError();
  }
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const entryBase = {
    type: job.data.kind === 'email' ? ('custom' as const) : job.data.kind,
    email_id,
    webhook_url: maskUrl(target.url),
    subject: job.data.subject,
    delivery_mode: target.mode,
    payload_size_bytes: body.length,
    attempt,
    max_attempts: maxAttempts,
    target_origin: target.origin,
    webhook_id,
  };
  let answeredInMs: number | undefined;
  try {
    const secret = await deps.secret();
    const result = await deps.deliverer.deliverWebhook({ target, webhookId: webhook_id, body, ...(secret ? { secret } : {}) });
    answeredInMs = result.duration_ms;
    // A first-attempt success is described by the job's return value (status, duration, excerpt): one Redis
    // write less on the hot path. After failed attempts the log gets its closing line, so the history reads whole.
    if (attempt > 1)
      await job.log(
        JSON.stringify({
          attempt,
          outcome: 'delivered',
          status: result.status,
          duration_ms: result.duration_ms,
          response: result.response_excerpt,
        }),
      );
    await deps.webhookLog.append({
      ...entryBase,
      status: 'success',
      status_code: result.status,
      attempted_delivery_modes: result.attempted_modes,
      fallback_used: result.fallback_used,
      duration_ms: result.duration_ms,
      final: true,
    });
    const endToEndMs = (deps.now?.() ?? Date.now()) - job.data.accepted_at;
    if (deps.journeys && job.data.kind === 'email')
      deps.journeys.record(
        email_id,
        attemptEvent({
          webhookId: webhook_id,
          jobId: job.id ?? webhook_id,
          attempt,
          maxAttempts,
          outcome: 'delivered',
          status: result.status,
          durationMs: result.duration_ms,
          responseExcerpt: result.response_excerpt,
          endToEndMs,
          now: deps.now?.() ?? Date.now(),
        }),
      );
    deps.metrics.deliveryAttempts.inc({ outcome: 'delivered', target_host: hostOf(target.url), failure_reason: '' });
    deps.metrics.deliveryDuration.observe({ outcome: 'delivered' }, result.duration_ms / 1000);
    if (job.data.kind === 'email') deps.metrics.endToEnd.observe(endToEndMs / 1000);
    log.info('delivery.succeeded', {
      status: result.status,
      duration_ms: result.duration_ms,
      end_to_end_ms: endToEndMs,
      fallback_used: result.fallback_used,
    });
    return result;
  } catch (error) {
    if (error instanceof RetryableDeliveryError || error instanceof PermanentDeliveryError) {
      const facts = error.facts;
      answeredInMs = facts.duration_ms;
      const final = error instanceof PermanentDeliveryError || attempt >= maxAttempts;
      if (deps.journeys && job.data.kind === 'email')
        deps.journeys.record(
          email_id,
          attemptEvent({
            webhookId: webhook_id,
            jobId: job.id ?? webhook_id,
            attempt,
            maxAttempts,
            outcome: final ? 'failed' : 'retrying',
            status: facts.status,
            durationMs: facts.duration_ms,
            failureReason: facts.failure_reason,
            responseExcerpt: facts.response_excerpt,
            now: deps.now?.() ?? Date.now(),
          }),
        );
      await job.log(JSON.stringify({ attempt, outcome: final ? 'failed' : 'retrying', ...facts }));
      deps.metrics.deliveryAttempts.inc({
        outcome: final ? 'failed' : 'retrying',
        target_host: hostOf(target.url),
        failure_reason: facts.failure_reason,
      });
      deps.metrics.deliveryDuration.observe({ outcome: 'failed' }, facts.duration_ms / 1000);
      await deps.webhookLog.append({
        ...entryBase,
        status: 'error',
        status_code: facts.status ?? null,
        error_message: error.message,
        response_snippet: facts.response_excerpt,
        failure_reason: facts.failure_reason,
        duration_ms: facts.duration_ms,
        final,
      });
      log[final ? 'error' : 'warn'](final ? 'delivery.dead_lettered' : 'delivery.failed', {
        status: facts.status,
        failure_reason: facts.failure_reason,
        duration_ms: facts.duration_ms,
        response: facts.response_excerpt,
        retry_after_ms: facts.retry_after_ms,
        permanent: error instanceof PermanentDeliveryError,
      });
      if (final && deps.onDeadLetter)
        await deps.onDeadLetter(job, facts).catch((e: Error) => log.error('delivery.notify_failed', { error: e.message }));
    }
    throw error;
  } finally {
    deps.gate.release(target.url, answeredInMs);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid';
  }
}
