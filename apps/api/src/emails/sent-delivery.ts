import type { DeliverWebhookJob } from '@render-signal/contracts';
import type { TargetView } from '@render-signal/journeys';
import { deliveryQueue, emailQueue, sentDeliveryOf } from '@render-signal/queue';
import type { AppDeps } from '../app-deps';

/** What one email sent to one target: the delivery job's data (target, exact payload, webhook id). */
export type SentDelivery = DeliverWebhookJob;

/**
 * "The exact body and webhook-id sent for this email × target" for the API (the journey's payload view, re-delivery),
 * on the API's queue handles: `sentDeliveryOf` in packages/queue is the one accessor (bulk replay's runner in the
 * worker reads it too).
 */
export function sentDeliveries(deps: Pick<AppDeps, 'journeys' | 'queues'>) {
  const deliveryHandle = () => deps.queues.find((q) => q.name === deliveryQueue.name) ?? deps.journeys.deliveryProducer.queue;
  const emailHandle = () => deps.queues.find((q) => q.name === emailQueue.name);
  return {
    of(target: Pick<TargetView, 'webhook_id' | 'job_ids'>, emailJobId: string | null | undefined): Promise<SentDelivery | null> {
      return sentDeliveryOf({ delivery: deliveryHandle(), email: emailHandle() }, target, emailJobId);
    },
  };
}
