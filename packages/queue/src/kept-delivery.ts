import type { Job, Queue } from 'bullmq';
import { deliverWebhookJobSchema, emailJobResultSchema, type DeliverWebhookJob } from '@render-signal/contracts';

/**
 * The one accessor for "the exact body and webhook-id sent for this email × target" (the journey's payload view and
 * re-delivery through the API's `sentDeliveries`, bulk replay's runner in the worker): the target's newest delivery job
 * still kept by BullMQ (the catalog keeps completed deliveries 7 days, failed ones 30), else, for an email delivered
 * by its own job (the fast path, no delivery job), that email job's return value (`emailJobResultSchema.delivery`).
 * Null when neither is kept any more.
 */
export async function sentDeliveryOf(
  queues: { delivery: Queue; email: Queue | undefined },
  target: { webhook_id: string; job_ids: readonly string[] },
  emailJobId: string | null | undefined,
): Promise<DeliverWebhookJob | null> {
  for (const jobId of [...target.job_ids].reverse()) {
    const job = (await queues.delivery.getJob(jobId)) as Job<unknown> | undefined;
    const data = job ? deliverWebhookJobSchema.safeParse(job.data) : undefined;
    if (data?.success) return data.data;
  }
  if (!emailJobId) return null;
  const emailJob = await queues.email?.getJob(emailJobId);
  const result = emailJobResultSchema.safeParse(emailJob?.returnvalue);
  const sent = result.success && result.data.fast_path === 'delivered' ? result.data.delivery : undefined;
  return sent && sent.webhook_id === target.webhook_id ? sent : null;
}
