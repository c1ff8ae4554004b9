import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import type { TargetHealthMonitor } from '@render-signal/delivery';
import type { JourneyRecorder } from '@render-signal/journeys';
import type { Logger } from '@render-signal/observability';

/** Why a held delivery went to the dead letter instead of its target (the failed job's reason, replayable). */
export class HeldDeliveryDropped extends UnrecoverableError {
  constructor(readonly reason: 'discarded_by_operator' | 'target_paused_too_long') {
    super(reason);
    this.name = 'HeldDeliveryDropped';
  }
}

/**
 * A delivery job whose target is paused is held: moved to delayed without spending an attempt (until the target
 * recovers and the leader releases it, or TARGET_HOLD_MAX), recorded in the target's held list (oldest first). An
 * operator's discard, or a hold past TARGET_HOLD_MAX, dead-letters it. Returns when the job may send.
 */
export async function holdWhilePaused(
  job: Job<DeliverWebhookJob>,
  token: string,
  health: Pick<TargetHealthMonitor, 'admitJob'>,
  log: Logger,
  journeys?: JourneyRecorder,
): Promise<void> {
  const decision = await health.admitJob({ url: job.data.target.url, jobId: job.id!, arrivedAt: job.data.accepted_at });
  if (decision.send) return;
  if (!decision.hold) {
    log.warn('delivery.held_dropped', { reason: decision.reason });
    throw new HeldDeliveryDropped(decision.reason);
  }
  log.debug('delivery.held', { until: decision.untilMs });
  recordHeld(job, journeys);
  await job.moveToDelayed(decision.untilMs, token);
  throw new DelayedError();
}

/** The email's journey shows « retenu : cible en pause » until its next attempt. */
function recordHeld(job: Job<DeliverWebhookJob>, journeys: JourneyRecorder | undefined): void {
  if (!journeys || job.data.kind !== 'email') return;
  journeys.record(job.data.email_id, {
    type: 'held',
    at: Date.now(),
    webhook_id: job.data.webhook_id,
    job_id: job.id ?? job.data.webhook_id,
  });
}

/** A failed attempt on a target now paused (a probe, or a stale view): held again, the attempt not spent. */
export async function holdAfterFailure(
  job: Job<DeliverWebhookJob>,
  token: string,
  health: Pick<TargetHealthMonitor, 'hold'>,
  holdMaxMs: number,
  journeys?: JourneyRecorder,
): Promise<never> {
  await health.hold(job.data.target.url, job.id!, job.data.accepted_at);
  recordHeld(job, journeys);
  await job.moveToDelayed(Math.max(Date.now() + 1_000, job.data.accepted_at + holdMaxMs), token);
  throw new DelayedError();
}
