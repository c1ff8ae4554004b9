import { z } from 'zod';

/** What an operator is told about (queue `alert`): a target's transitions, and a digest of dead letters. */
export const ALERT_EVENTS = ['target.failing', 'target.paused', 'target.recovered', 'dead_letters.digest'] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** Data of the `alert.send` job: everything the message says (the target already masked). */
export const sendAlertJobSchema = z.object({
  event: z.enum(ALERT_EVENTS),
  /** When it happened (ms). */
  at: z.number().int(),
  target_id: z.string().optional(),
  /** The target URL masked. */
  target: z.string().optional(),
  state: z.string().optional(),
  /** Deliveries held for the target when it happened. */
  held: z.number().int().min(0).optional(),
  /** Since when the target has been in trouble (ms). */
  since: z.number().int().optional(),
  /** Paused or resumed by an operator. */
  operator: z.boolean().optional(),
  last_error: z.object({ status: z.number().int().optional(), reason: z.string(), excerpt: z.string().optional() }).optional(),
  /** dead_letters.digest: counts per target and reason since the previous digest. */
  digest: z.array(z.object({ target: z.string(), reason: z.string(), count: z.number().int().min(1) })).optional(),
});
export type SendAlertJob = z.infer<typeof sendAlertJobSchema>;

/** Run by a job scheduler every ALERT_DIGEST_INTERVAL: the dead letters counted since the last run become one alert. */
export const deadLetterDigestJobSchema = z.object({}).default({});
export type DeadLetterDigestJob = z.infer<typeof deadLetterDigestJobSchema>;
