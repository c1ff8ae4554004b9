import type { Worker } from 'bullmq';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import type { JourneyRecorder } from '@render-signal/journeys';

/**
 * A delivery worker's `failed` listener that writes `retry_scheduled` to the email's journey: the retry's due time
 * is known only once BullMQ has applied the backoff (`job.delay`). Final failures and other kinds are skipped.
 */
export function recordScheduledRetries(worker: Worker<DeliverWebhookJob>, journeys: Pick<JourneyRecorder, 'record'>): void {
  worker.on('failed', (job) => {
    if (!job || job.data.kind !== 'email' || job.attemptsMade >= (job.opts.attempts ?? 1) || !(job.delay > 0)) return;
    const at = Date.now();
    journeys.record(job.data.email_id, {
      type: 'retry_scheduled',
      at,
      webhook_id: job.data.webhook_id,
      job_id: job.id ?? job.data.webhook_id,
      next_attempt_at: at + job.delay,
    });
  });
}
