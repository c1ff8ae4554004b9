import { sentDeliveryOf, type SentContext, type SentDelivery, type TargetView } from '@render-signal/journeys';
import { deliveryQueue, emailQueue } from '@render-signal/queue';
import type { AppDeps } from '../app-deps';

export type { SentContext, SentDelivery };

/**
 * "The exact body and webhook-id sent for this email × target" for the API (the journey's payload view,
 * re-delivery), on the API's queue handles: `sentDeliveryOf` (packages/journeys) is the one accessor, which bulk
 * replay's runner in the worker reads too.
 */
export function sentDeliveries(deps: Pick<AppDeps, 'journeys' | 'queues'>) {
  const deliveryHandle = () => deps.queues.find((q) => q.name === deliveryQueue.name) ?? deps.journeys.deliveryProducer.queue;
  const emailHandle = () => deps.queues.find((q) => q.name === emailQueue.name);
  return {
    of(target: Pick<TargetView, 'webhook_id' | 'job_ids'>, context: SentContext): Promise<SentDelivery | null> {
      return sentDeliveryOf(
        {
          deliveryJob: (jobId) => deliveryHandle().getJob(jobId),
          emailJob: async (jobId) => (await emailHandle()?.getJob(jobId)) ?? null,
        },
        target,
        context,
      );
    },
  };
}
