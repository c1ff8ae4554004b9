import type { Job } from 'bullmq';
import { readSettings, type SettingsStore } from '@render-signal/config-store';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import { failureNotificationFor, type AttemptFacts, type RetryPolicy } from '@render-signal/delivery';
import { maskUrl, type Logger } from '@render-signal/observability';
import type { deliveryQueue, Producer } from '@render-signal/queue';

export interface DeadLetterNotifierDeps {
  settings: SettingsStore;
  deliveryProducer: Producer<typeof deliveryQueue>;
  retryPolicy: RetryPolicy;
  publicBaseUrl: string | undefined;
  logger: Logger;
}

/**
 * The delivery worker's `onDeadLetter`: when an email's delivery is dead-lettered and processing_prefs ask for it
 * (notify_on_failure, failure_webhook_url), a `failure_notification` delivery job to the failure webhook.
 */
export function createDeadLetterNotifier(deps: DeadLetterNotifierDeps) {
  return async (job: Job<DeliverWebhookJob>, facts: AttemptFacts): Promise<void> => {
    const current = await readSettings(deps.settings);
    const notification = failureNotificationFor(job.data, facts, {
      attempts: job.attemptsMade + 1,
      prefs: { ...current.processing_prefs, failure_webhook_url: current.webhook_config.failure_webhook_url },
      policy: deps.retryPolicy,
      now: Date.now(),
      maskUrl,
      publicBaseUrl: deps.publicBaseUrl,
    });
    if (!notification) return;
    await deps.deliveryProducer.add('deliver', notification.data, {
      jobId: notification.webhookId,
      attempts: notification.attempts,
      priority: 1,
    });
    deps.logger.info('delivery.failure_notified', { email_id: job.data.email_id, webhook_id: job.data.webhook_id });
  };
}
