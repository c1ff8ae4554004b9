import type { Job, Queue } from 'bullmq';
import { z } from 'zod';
import { deliverWebhookJobSchema, type DeliverWebhookJob } from '@render-signal/contracts';

/** The email job's return value when it delivered its one target itself (apps/worker process-email: the fast path). */
const fastPathDeliverySchema = z.object({ fast_path: z.literal('delivered'), delivery: deliverWebhookJobSchema });

/**
 * What a target was sent (payload and real URL): its newest delivery job still kept by BullMQ (the catalog
 * keeps completed deliveries 7 days, failed ones 30), else, for an email delivered by its own job (the fast
 * path, no delivery job), that email job's return value. Null when neither is kept any more.
 * The one place that knows where a sent delivery is kept: the journey view, re-delivery and bulk replay read it.
 */
export async function keptDelivery(
  queues: { delivery: Queue; email: Queue | undefined },
  target: { webhook_id: string; job_ids: readonly string[] },
  emailJobId: string | null | undefined,
): Promise<{ data: DeliverWebhookJob } | null> {
  for (const jobId of [...target.job_ids].reverse()) {
    const job = (await queues.delivery.getJob(jobId)) as Job<DeliverWebhookJob> | undefined;
    const data = job ? deliverWebhookJobSchema.safeParse(job.data) : undefined;
    if (job && data?.success) return { data: data.data };
  }
  if (!emailJobId) return null;
  const emailJob = await queues.email?.getJob(emailJobId);
  const sent = fastPathDeliverySchema.safeParse(emailJob?.returnvalue);
  return sent.success && sent.data.delivery.webhook_id === target.webhook_id ? { data: sent.data.delivery } : null;
}
