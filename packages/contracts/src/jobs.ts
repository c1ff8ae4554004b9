import { z } from 'zod';
import { ingressPayloadSchema } from './ingress';

/** Data of the `email.process` job: one accepted email. */
export const processEmailJobSchema = z.object({
  email_id: z.string().min(1),
  /** Epoch ms when the ingress accepted it (end-to-end latency starts here). */
  accepted_at: z.number().int(),
  email: ingressPayloadSchema,
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
});
export type DeliverWebhookJob = z.infer<typeof deliverWebhookJobSchema>;
