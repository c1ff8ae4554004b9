import { z } from 'zod';
import { ingressPayloadSchema } from './ingress';

/** Data of the `email.process` job: one accepted email. */
export const processEmailJobSchema = z.object({
  email_id: z.string().min(1),
  /** Epoch ms when the ingress accepted it (end-to-end latency starts here). */
  accepted_at: z.number().int(),
  email: ingressPayloadSchema,
  /** Step of the job: `plan` first; `offload` when it resumes after its offload children finished. */
  step: z.enum(['plan', 'offload']).default('plan'),
  /** The routing decision kept while offloads run (step `offload`); the pipeline's storedRouteSchema validates it on read. */
  route: z.record(z.string(), z.unknown()).optional(),
});
export type ProcessEmailJob = z.infer<typeof processEmailJobSchema>;

/** How one target wants to be called. Defaults match Make.com/Zapier (any 2xx is success). */
export const deliveryTargetSchema = z.object({
  url: z.string().url(),
  /** Where the target came from: `default` (WEBHOOK_URL / webhook_config) or `rule:<id>`. */
  origin: z.string(),
  mode: z.enum(['json', 'form']).default('json'),
  fallback_on_415: z.boolean().default(true),
  tls_verify: z.boolean().default(true),
  /** The original's success check: 200 with a JSON body `success: true`. */
  require_success_flag: z.boolean().default(false),
  timeout_ms: z.number().int().positive().optional(),
});
export type DeliveryTarget = z.infer<typeof deliveryTargetSchema>;

/** Data of the `delivery.deliver` job: one webhook to one target. */
export const deliverWebhookJobSchema = z.object({
  email_id: z.string().min(1),
  accepted_at: z.number().int(),
  /** Standard Webhooks `webhook-id`: stable per email + target, receivers dedup on it. */
  webhook_id: z.string().min(1),
  target: deliveryTargetSchema,
  /** The exact JSON body to send (key order preserved). */
  payload: z.record(z.string(), z.unknown()),
  subject: z.string().default(''),
  /** processing_prefs.retry_delay_sec: no retry comes sooner than this (ms). */
  retry_floor_ms: z.number().int().min(0).optional(),
  /** `failure_notification` deliveries never trigger another notification. */
  kind: z.enum(['email', 'failure_notification', 'test']).default('email'),
});
export type DeliverWebhookJob = z.infer<typeof deliverWebhookJobSchema>;

/** Data of the `offload.transfer` job: one link of one email copied to R2/S3. */
export const offloadLinkJobSchema = z.object({
  email_id: z.string().min(1),
  index: z.number().int().min(0),
  link: z.object({ provider: z.string(), raw_url: z.string() }),
  /** Epoch ms after which the transfer is abandoned: the webhook leaves with the source URLs. */
  deadline_at: z.number().int(),
});
export type OffloadLinkJob = z.infer<typeof offloadLinkJobSchema>;
