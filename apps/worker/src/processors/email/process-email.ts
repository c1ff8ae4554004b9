import type { Job } from 'bullmq';
import type { ProcessEmailJob } from '@render-signal/contracts';
import type { Logger } from '@render-signal/observability';
import type { Producer, deliveryQueue } from '@render-signal/queue';
import type { EmailPlan } from '../../pipeline/plan-email';

export interface ProcessEmailDeps {
  logger: Logger;
  deliveryProducer: Producer<typeof deliveryQueue>;
  /** detect → route → build payloads: decides what this email becomes. */
  planEmail(job: ProcessEmailJob, now: Date): Promise<EmailPlan>;
  /** Attempts each delivery gets (from the retry schedule). */
  deliveryAttempts: number;
  now?: () => number;
}

/**
 * The `email.process` job: plans the email and fans it out into one `delivery.deliver` job per target.
 * Delivery job ids are deterministic (webhook id), so a retried or recovered process job never
 * enqueues the same delivery twice.
 */
export async function processEmail(job: Job<ProcessEmailJob>, deps: ProcessEmailDeps): Promise<{ deliveries: number; skipped?: string }> {
  const data = job.data;
  const log = deps.logger.child({ email_id: data.email_id });
  const plan = await deps.planEmail(data, new Date(deps.now?.() ?? Date.now()));
  log.info('email.detected', { detector: plan.detection.detector, links: plan.linkCount });
  if (plan.skip) {
    log.info('email.skipped', { reason: plan.skip.reason });
    return { deliveries: 0, skipped: plan.skip.reason };
  }
  await deps.deliveryProducer.addBulk(
    plan.deliveries.map((delivery) => ({
      name: 'deliver' as const,
      data: {
        email_id: data.email_id,
        accepted_at: data.accepted_at,
        webhook_id: delivery.webhookId,
        target: delivery.target,
        payload: delivery.payload,
        subject: data.email.subject,
      },
      opts: { jobId: delivery.webhookId, attempts: deps.deliveryAttempts, priority: delivery.priority === 'high' ? 1 : undefined },
    })),
  );
  log.info('email.routed', {
    deliveries: plan.deliveries.length,
    targets: plan.deliveries.map((d) => ({ origin: d.target.origin, url: d.target.url, webhook_id: d.webhookId })),
  });
  return { deliveries: plan.deliveries.length };
}
