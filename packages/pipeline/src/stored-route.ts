import { z } from 'zod';
import { deliveryTargetSchema, payloadSettingsSchema } from '@render-signal/contracts';
import { deliveryRetrySchema } from '@render-signal/delivery';
import { RULE_PRIORITIES, WINDOW_REASONS, type TargetOrigin } from '@render-signal/routing';
import type { EmailRoute } from './plan-email';

const targetOrigin = z.custom<TargetOrigin>((v) => typeof v === 'string' && (v === 'default' || v.startsWith('rule:')), {
  message: 'must be "default" or "rule:<id>"',
});

/**
 * The routing decision an email job saves while its offload children run (job data `route`, step `offload`),
 * read back when the job resumes — possibly in another process, after a deploy: validated there.
 */
export const storedRouteSchema = z.object({
  detection: z.object({
    detector: z.enum(['recadrage', 'desabonnement_journee_tarifs']).nullable(),
    delivery_time: z.string().optional(),
    is_urgent: z.boolean().optional(),
  }),
  window: z.object({ webhooks_time_start: z.string().optional(), webhooks_time_end: z.string().optional() }),
  /** The time window's verdict (shown in the journey). */
  windowVerdict: z.enum(WINDOW_REASONS).optional(),
  links: z.array(
    z.object({
      provider: z.string(),
      raw_url: z.string(),
      direct_url: z.string().optional(),
      r2_url: z.string().optional(),
      original_filename: z.string().optional(),
    }),
  ),
  targets: z.array(
    z.object({
      route: z.object({
        url: z.string(),
        origin: targetOrigin,
        priority: z.enum(RULE_PRIORITIES),
        rule: z.object({ id: z.string(), name: z.string(), priority: z.enum(RULE_PRIORITIES) }).optional(),
        payload: payloadSettingsSchema.optional(),
      }),
      target: deliveryTargetSchema,
      priority: z.number().int(),
    }),
  ),
  /** Absent on routes saved before extraction existed, and when nothing was extracted. */
  extracted: z.record(z.string(), z.string()).optional(),
  retry: deliveryRetrySchema,
});
export type StoredRoute = z.infer<typeof storedRouteSchema>;

// The saved shape is the planned route: a field added to EmailRoute without the schema fails to compile here
// (keys compared too: an optional field is otherwise invisible to a structural check).
type Exact<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? [keyof A] extends [keyof B]
      ? [keyof B] extends [keyof A]
        ? true
        : false
      : false
    : false
  : false;
const storedMatchesPlan: Exact<Omit<StoredRoute, 'retry'>, Omit<EmailRoute, 'routing'>> = true;
void storedMatchesPlan;
