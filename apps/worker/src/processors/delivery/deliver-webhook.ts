import type { Job } from 'bullmq';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import { PermanentDeliveryError, RetryableDeliveryError, type DeliverySuccess, type WebhookDeliverer } from '@render-signal/delivery';
import { maskUrl, type Logger } from '@render-signal/observability';

export interface DeliverWebhookDeps {
  logger: Logger;
  deliverer: WebhookDeliverer;
  now?: () => number;
}

/**
 * The `delivery.deliver` job: one POST to one target. Every attempt is written to the job log
 * (status, duration, response excerpt), so the dead-letter set explains itself.
 */
export async function deliverWebhookJob(job: Job<DeliverWebhookJob>, deps: DeliverWebhookDeps): Promise<DeliverySuccess> {
  const { email_id, webhook_id, target, payload } = job.data;
  const attempt = job.attemptsMade + 1;
  const maxAttempts = job.opts.attempts ?? 1;
  const log = deps.logger.child({ email_id, webhook_id, target: maskUrl(target.url), origin: target.origin, attempt });
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  try {
    const result = await deps.deliverer.deliverWebhook({ target, webhookId: webhook_id, body });
    await job.log(JSON.stringify({ attempt, outcome: 'delivered', status: result.status, duration_ms: result.duration_ms, response: result.response_excerpt }));
    const endToEndMs = (deps.now?.() ?? Date.now()) - job.data.accepted_at;
    log.info('delivery.succeeded', { status: result.status, duration_ms: result.duration_ms, end_to_end_ms: endToEndMs, fallback_used: result.fallback_used });
    return result;
  } catch (error) {
    if (error instanceof RetryableDeliveryError || error instanceof PermanentDeliveryError) {
      const facts = error.facts;
      const final = error instanceof PermanentDeliveryError || attempt >= maxAttempts;
      await job.log(JSON.stringify({ attempt, outcome: final ? 'failed' : 'retrying', ...facts }));
      log[final ? 'error' : 'warn'](final ? 'delivery.dead_lettered' : 'delivery.failed', {
        status: facts.status,
        failure_reason: facts.failure_reason,
        duration_ms: facts.duration_ms,
        response: facts.response_excerpt,
        retry_after_ms: facts.retry_after_ms,
        permanent: error instanceof PermanentDeliveryError,
      });
    }
    throw error;
  }
}
