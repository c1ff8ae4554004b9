import type { Job } from 'bullmq';
import { deliverWebhookJobSchema, emailJobResultSchema, type DeliverWebhookJob } from '@render-signal/contracts';
import type { TargetView } from '@render-signal/journeys';
import { deliveryQueue, emailQueue } from '@render-signal/queue';
import type { AppDeps } from '../app-deps';

/** What one email sent to one target: the delivery job's data (target, exact payload, webhook id). */
export type SentDelivery = DeliverWebhookJob;

/**
 * The one accessor for "the exact body and webhook-id sent for this email × target" (the journey's payload view,
 * re-delivery, bulk replay): the target's newest delivery job still kept by BullMQ (the catalog keeps completed
 * deliveries 7 days, failed ones 30), else, for an email delivered by its own job (the fast path, no delivery
 * job), that email job's return value (`emailJobResultSchema.delivery`). Null when neither is kept any more.
 */
export function sentDeliveries(deps: Pick<AppDeps, 'journeys' | 'queues'>) {
  const deliveryHandle = () => deps.queues.find((q) => q.name === deliveryQueue.name) ?? deps.journeys.deliveryProducer.queue;
  const emailHandle = () => deps.queues.find((q) => q.name === emailQueue.name);
  return {
    async of(target: Pick<TargetView, 'webhook_id' | 'job_ids'>, emailJobId: string | null | undefined): Promise<SentDelivery | null> {
      const queue = deliveryHandle();
      for (const jobId of [...target.job_ids].reverse()) {
        const job = (await queue.getJob(jobId)) as Job<unknown> | undefined;
        const data = job ? deliverWebhookJobSchema.safeParse(job.data) : undefined;
        if (data?.success) return data.data;
      }
      if (!emailJobId) return null;
      const emailJob = await emailHandle()?.getJob(emailJobId);
      const result = emailJobResultSchema.safeParse(emailJob?.returnvalue);
      const sent = result.success && result.data.fast_path === 'delivered' ? result.data.delivery : undefined;
      return sent && sent.webhook_id === target.webhook_id ? sent : null;
    },
  };
}
