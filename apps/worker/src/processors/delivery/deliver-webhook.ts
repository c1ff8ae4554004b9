import { DelayedError, type Job } from 'bullmq';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import {
  attemptBody,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type AttemptFacts,
  type DeliverySuccess,
  type TargetHealthMonitor,
} from '@render-signal/delivery';
import { maskUrl, type Logger } from '@render-signal/observability';
import { attemptDelivery, type DeliveryAttemptDeps } from '../../pipeline/delivery-attempt';
import type { TargetGate } from '../../pipeline/target-gate';
import { holdAfterFailure, holdWhilePaused } from '../../pipeline/target-hold';

export interface DeliverWebhookDeps extends DeliveryAttemptDeps {
  logger: Logger;
  /** Per-target admission: in-flight cap and the hourly rate limit; answers how long to wait when full. */
  gate: Pick<TargetGate, 'admit' | 'release'>;
  /** Called once when a delivery of an email is dead-lettered (notify_on_failure). */
  onDeadLetter?(job: Job<DeliverWebhookJob>, facts: AttemptFacts): Promise<void>;
  /** Destination health: a paused target's deliveries are held (no attempt spent) until it recovers. */
  hold?: { health: Pick<TargetHealthMonitor, 'admitJob' | 'hold'>; holdMaxMs: number };
}

/**
 * The `delivery.deliver` job: one POST to one target per attempt (`attemptDelivery` records it: webhook log,
 * metrics). Every attempt of a job that needed more than one also goes to its job log (status, duration,
 * response excerpt), so the dead-letter set explains itself. A job handed over by the email job's fast path
 * after a failed first attempt (`first_attempt`) starts by recording that attempt instead of sending.
 */
export async function deliverWebhookJob(
  job: Job<DeliverWebhookJob>,
  token: string | undefined,
  deps: DeliverWebhookDeps,
): Promise<DeliverySuccess> {
  const { email_id, webhook_id, target } = job.data;
  const attempt = job.attemptsMade + 1;
  const maxAttempts = job.opts.attempts ?? 1;
  const log = deps.logger.child({ email_id, webhook_id, target: maskUrl(target.url), origin: target.origin, attempt });

  if (job.data.first_attempt && job.attemptsMade === 0) return takeOverFirstAttempt(job, job.data.first_attempt, deps, log);

  if (deps.hold && token) await holdWhilePaused(job, token, deps.hold.health, log, deps.journeys);
  const admission = await deps.gate.admit(target.url, Boolean(token));
  if (!admission.admitted && token) {
    // Delayed, never dropped: the job waits its turn without spending an attempt.
    log.debug('delivery.deferred', { reason: admission.reason, wait_ms: admission.waitMs });
    await job.moveToDelayed((deps.now?.() ?? Date.now()) + admission.waitMs, token);
    throw new DelayedError();
  }
  let answeredInMs: number | undefined;
  try {
    const body = attemptBody(job.data, deps.renderer);
    const outcome = await attemptDelivery({ delivery: job.data, body, attempt, maxAttempts, path: 'job', jobId: job.id }, deps, log);
    if (outcome.ok) {
      const { result } = outcome;
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
      log.info('delivery.succeeded', {
        status: result.status,
        duration_ms: result.duration_ms,
        end_to_end_ms: outcome.endToEndMs,
        fallback_used: result.fallback_used,
      });
      return result;
    }
    const { error, final } = outcome;
    answeredInMs = error.facts.duration_ms;
    if (outcome.targetState === 'paused' && deps.hold && token) {
      await job.log(JSON.stringify({ attempt, outcome: 'held', ...error.facts }));
      return await holdAfterFailure(job, token, deps.hold.health, deps.hold.holdMaxMs, deps.journeys);
    }
    await job.log(JSON.stringify({ attempt, outcome: final ? 'failed' : 'retrying', ...error.facts }));
    if (final) await deadLettered(job, error, deps, log);
    throw error;
  } finally {
    deps.gate.release(target.url, answeredInMs);
  }
}

/**
 * The fast path's failed first attempt, already sent and recorded (webhook log, metrics) by the email job: it
 * goes to this job's log and, when it was final, to the dead letter; the field is dropped so that a replay of
 * the dead letter sends again. Thrown like the attempt's own failure, so BullMQ counts it (attemptsMade 1) and
 * schedules the retry with the same backoff (Retry-After included) as any failed attempt.
 */
async function takeOverFirstAttempt(
  job: Job<DeliverWebhookJob>,
  first: NonNullable<DeliverWebhookJob['first_attempt']>,
  deps: DeliverWebhookDeps,
  log: Logger,
): Promise<never> {
  const error = first.permanent ? new PermanentDeliveryError(first.facts) : new RetryableDeliveryError(first.facts);
  const final = first.permanent || (job.opts.attempts ?? 1) <= 1;
  await job.log(JSON.stringify({ attempt: 1, outcome: final ? 'failed' : 'retrying', path: 'fast', ...first.facts }));
  const { first_attempt: _first, ...rest } = job.data;
  await job.updateData(rest);
  if (final) await deadLettered(job, error, deps, log);
  throw error;
}

async function deadLettered(
  job: Job<DeliverWebhookJob>,
  error: RetryableDeliveryError | PermanentDeliveryError,
  deps: DeliverWebhookDeps,
  log: Logger,
): Promise<void> {
  const facts = error.facts;
  log.error('delivery.dead_lettered', {
    status: facts.status,
    failure_reason: facts.failure_reason,
    duration_ms: facts.duration_ms,
    response: facts.response_excerpt,
    permanent: error instanceof PermanentDeliveryError,
  });
  if (deps.onDeadLetter) await deps.onDeadLetter(job, facts).catch((e: Error) => log.error('delivery.notify_failed', { error: e.message }));
}
