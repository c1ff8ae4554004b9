import type { Job } from 'bullmq';
import { deliverWebhookJobSchema, deliveryJobData, emailJobResultSchema, type DeliverWebhookJob } from '@render-signal/contracts';
import { sentDeliveries as sentEvents, type JourneyEvent, type JourneyView, type TargetView } from '@render-signal/journeys';
import { deliveryQueue, emailQueue } from '@render-signal/queue';
import type { AppDeps } from '../app-deps';

/** What one email sent to one target: a delivery job's data (target with its real URL, exact payload, webhook id). */
export type SentDelivery = DeliverWebhookJob;

/** The email's journey, as the accessor reads it: its events and who received it. */
export interface SentContext {
  events: readonly JourneyEvent[];
  journey: Pick<JourneyView, 'email_id' | 'received'>;
}

/**
 * The one accessor for "the exact body and webhook-id sent for this email × target" (the journey's payload view,
 * re-delivery, bulk replay), newest source first:
 * 1. the target's newest delivery job still kept by BullMQ (the catalog keeps completed deliveries 7 days, failed
 *    ones 30);
 * 2. for a delivery the email job made itself (the fast path), the journey's `sent` event (kept as long as the
 *    journey);
 * 3. the email job's return value (`emailJobResultSchema.delivery`: journeys off, or jobs completed before the
 *    `sent` event existed).
 * Null when none is kept any more.
 */
export function sentDeliveries(deps: Pick<AppDeps, 'journeys' | 'queues'>) {
  const deliveryHandle = () => deps.queues.find((q) => q.name === deliveryQueue.name) ?? deps.journeys.deliveryProducer.queue;
  const emailHandle = () => deps.queues.find((q) => q.name === emailQueue.name);
  return {
    async of(target: Pick<TargetView, 'webhook_id' | 'job_ids'>, context: SentContext): Promise<SentDelivery | null> {
      const queue = deliveryHandle();
      for (const jobId of [...target.job_ids].reverse()) {
        const job = (await queue.getJob(jobId)) as Job<unknown> | undefined;
        const data = job ? deliverWebhookJobSchema.safeParse(job.data) : undefined;
        if (data?.success) return data.data;
      }
      const sent = sentEvents(context.events).get(target.webhook_id);
      const received = context.journey.received;
      if (sent && received)
        return deliveryJobData({
          email_id: context.journey.email_id,
          accepted_at: Date.parse(received.accepted_at),
          webhook_id: sent.webhook_id,
          target: sent.target,
          payload: sent.payload,
          payload_format: sent.payload_format,
          extracted: sent.extracted,
          subject: received.subject,
          retry_floor_ms: sent.retry_floor_ms,
          kind: 'email',
        });
      const emailJobId = received?.job_id;
      if (!emailJobId) return null;
      const emailJob = await emailHandle()?.getJob(emailJobId);
      const result = emailJobResultSchema.safeParse(emailJob?.returnvalue);
      const kept = result.success && result.data.fast_path === 'delivered' ? result.data.delivery : undefined;
      return kept && kept.webhook_id === target.webhook_id ? kept : null;
    },
  };
}
