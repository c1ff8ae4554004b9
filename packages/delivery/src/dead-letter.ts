import type { DeliverWebhookJob } from '@render-signal/contracts';
import type { AttemptFacts } from './errors';
import { attemptsFor, type RetryPolicy } from './retry-schedule';
import { webhookIdFor } from './signing';

export interface FailureNotification {
  /** Also the BullMQ job id: a dead letter noticed twice (a crash mid-way) still notifies once. */
  webhookId: string;
  data: DeliverWebhookJob;
  attempts: number;
}

export interface DeadLetterPrefs {
  notify_on_failure: boolean;
  failure_webhook_url: string | null | undefined;
}

/**
 * What a dead-lettered delivery of an email becomes (processing_prefs.notify_on_failure): one
 * `failure_notification` delivery to the failure webhook, with a stable id derived from the failed one,
 * and the target masked (its URL may hold a token). Nothing for notifications themselves, test sends or
 * when no failure webhook is set.
 */
export function failureNotificationFor(
  failed: DeliverWebhookJob,
  facts: AttemptFacts,
  context: {
    attempts: number;
    prefs: DeadLetterPrefs;
    policy: RetryPolicy;
    now: number;
    maskUrl(url: string): string | null;
    /** PUBLIC_BASE_URL: makes `journey_url` absolute (else the dashboard path alone). */
    publicBaseUrl?: string | undefined;
  },
): FailureNotification | undefined {
  const url = context.prefs.failure_webhook_url;
  if (failed.kind !== 'email' || !context.prefs.notify_on_failure || !url) return undefined;
  const webhookId = webhookIdFor(`${failed.webhook_id}.failure`, url);
  return {
    webhookId,
    attempts: attemptsFor(context.policy),
    data: {
      email_id: failed.email_id,
      accepted_at: context.now,
      webhook_id: webhookId,
      subject: failed.subject,
      kind: 'failure_notification',
      target: {
        url,
        origin: 'failure_notification',
        mode: 'json',
        fallback_on_415: false,
        tls_verify: true,
        require_success_flag: false,
      },
      payload: {
        event: 'delivery.failed',
        email_id: failed.email_id,
        webhook_id: failed.webhook_id,
        target: context.maskUrl(failed.target.url),
        target_origin: failed.target.origin,
        subject: failed.subject,
        // The email's journey in the dashboard.
        journey_url: `${context.publicBaseUrl?.replace(/\/$/, '') ?? ''}/dashboard/#emails/${encodeURIComponent(failed.email_id)}`,
        failure_reason: facts.failure_reason,
        status_code: facts.status ?? null,
        attempts: context.attempts,
        failed_at: new Date(context.now).toISOString(),
      },
    },
  };
}
