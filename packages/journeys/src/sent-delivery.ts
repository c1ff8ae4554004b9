import { deliverWebhookJobSchema, deliveryJobData, emailJobResultSchema, type DeliverWebhookJob } from '@render-signal/contracts';
import type { JourneyEvent } from './events';
import { sentDeliveries as sentEvents, type JourneyView, type TargetView } from './fold';

/** What one email sent to one target: a delivery job's data (target with its real URL, exact payload, webhook id). */
export type SentDelivery = DeliverWebhookJob;

/** The email's journey, as the accessor reads it: its events and who received it. */
export interface SentContext {
  events: readonly JourneyEvent[];
  journey: Pick<JourneyView, 'email_id' | 'received'>;
}

/** Where BullMQ keeps jobs (the queues' `getJob`), so that the API and the worker read them on their own handles. */
export interface KeptJobs {
  deliveryJob(jobId: string): Promise<{ data: unknown } | null | undefined>;
  emailJob(jobId: string): Promise<{ returnvalue: unknown } | null | undefined>;
}

/**
 * The one accessor for "the exact body and webhook-id sent for this email × target" (the journey's payload view and
 * re-delivery in the API, bulk replay's runner in the worker), newest source first:
 * 1. the target's newest delivery job still kept by BullMQ (the catalog keeps completed deliveries 7 days, failed
 *    ones 30);
 * 2. for a delivery the email job made itself (the fast path), the journey's `sent` event (kept as long as the
 *    journey);
 * 3. the email job's return value (`emailJobResultSchema.delivery`: journeys off, or jobs completed before the
 *    `sent` event existed).
 * Null when none is kept any more.
 */
export async function sentDeliveryOf(
  jobs: KeptJobs,
  target: Pick<TargetView, 'webhook_id' | 'job_ids'>,
  context: SentContext,
): Promise<SentDelivery | null> {
  for (const jobId of [...target.job_ids].reverse()) {
    const job = await jobs.deliveryJob(jobId);
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
  const emailJob = await jobs.emailJob(emailJobId);
  const result = emailJobResultSchema.safeParse(emailJob?.returnvalue);
  const kept = result.success && result.data.fast_path === 'delivered' ? result.data.delivery : undefined;
  return kept && kept.webhook_id === target.webhook_id ? kept : null;
}
