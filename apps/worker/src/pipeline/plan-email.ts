import type { DeliveryTarget, ProcessEmailJob } from '@render-signal/contracts';
import { parseSenderAddress } from '@render-signal/contracts';
import { webhookIdFor } from '@render-signal/delivery';

export interface PlannedDelivery {
  webhookId: string;
  target: DeliveryTarget;
  payload: Record<string, unknown>;
  priority: 'normal' | 'high';
}

export interface EmailPlan {
  detection: { detector: string | null };
  linkCount: number;
  deliveries: PlannedDelivery[];
  skip?: { reason: string };
}

export interface PlannerSettings {
  defaultWebhookUrl?: string;
}

/** Builds the planner used by the `email.process` job: detect → route → payload per target. */
export function createEmailPlanner(settings: PlannerSettings) {
  return async function planEmail(job: ProcessEmailJob, _now: Date): Promise<EmailPlan> {
    const detection = { detector: null };
    if (!settings.defaultWebhookUrl) return { detection, linkCount: 0, deliveries: [], skip: { reason: 'no_target' } };
    const email = job.email;
    const payload: Record<string, unknown> = {
      microsoft_graph_email_id: job.email_id,
      subject: email.subject,
      receivedDateTime: email.date,
      sender_address: email.sender,
      bodyPreview: email.body.slice(0, 200),
      email_content: email.body,
      source: 'gmail_push',
      sender_email: parseSenderAddress(email.sender),
      email_id: job.email_id,
    };
    const target: DeliveryTarget = {
      url: settings.defaultWebhookUrl,
      origin: 'default',
      mode: 'json',
      fallback_on_415: true,
      tls_verify: true,
      require_success_flag: false,
    };
    return {
      detection,
      linkCount: 0,
      deliveries: [{ webhookId: webhookIdFor(job.email_id, target.url), target, payload, priority: 'normal' }],
    };
  };
}
