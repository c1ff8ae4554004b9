import { z } from 'zod';
import { ARRIVAL_SOURCES, type ArrivalSource } from '@render-signal/contracts';

/**
 * An email's journey is a list of events, appended as the pipeline runs (worker) or as an operator acts
 * (API). Every event is stored as one JSON line and validated with these schemas when read back; a line
 * that no longer parses is skipped and counted, never trusted.
 */

export type { ArrivalSource };

/** A response excerpt kept in a journey: at most 1 KB. */
export const EXCERPT_MAX_BYTES = 1024;

const at = z.number().int();
const excerpt = z.string().max(EXCERPT_MAX_BYTES * 4);

export const conditionFactSchema = z.object({
  field: z.string(),
  operator: z.string(),
  value: z.string(),
  matched: z.boolean(),
});
export type ConditionFact = z.infer<typeof conditionFactSchema>;

export const ruleFactSchema = z.object({
  id: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  match: z.enum(['all', 'any']),
  matched: z.boolean(),
  /** Evaluation reached it (no earlier matching rule with stop_processing). */
  reached: z.boolean(),
  /** Its target receives the email. */
  applied: z.boolean(),
  /** The condition that decided the rule's result (null: disabled, or no condition). */
  deciding: conditionFactSchema.nullable(),
});
export type RuleFact = z.infer<typeof ruleFactSchema>;

export const receivedEventSchema = z.object({
  type: z.literal('received'),
  at,
  /** When the ingress accepted it (epoch ms). */
  accepted_at: at,
  source: z.enum(ARRIVAL_SOURCES),
  /** The `email.process` job (Bull Board link). */
  job_id: z.string().nullable().default(null),
  subject: z.string(),
  sender: z.string(),
});

const detectionFields = {
  detector: z.string().nullable(),
  delivery_time: z.string().nullable(),
  is_urgent: z.boolean().optional(),
};

export const plannedEventSchema = z.object({
  type: z.literal('planned'),
  at,
  ...detectionFields,
  /** The time-window verdict (decideWindowOutcome's reason) and whether it let the email go. */
  window: z.object({ reason: z.string(), send: z.boolean() }),
  rules: z.array(ruleFactSchema),
  stopped_by: z.string().nullable(),
  links: z.array(z.object({ provider: z.string(), raw_url: z.string() })),
  /** Targets masked (`scheme://host/***`): the real URLs are only in `dispatched`, never shown. */
  targets: z.array(
    z.object({
      webhook_id: z.string(),
      target: z.string(),
      origin: z.string(),
      priority: z.number().int(),
      /** `targetIdOf(url)` (absent on events written before it existed). */
      target_id: z.string().optional(),
    }),
  ),
  /** Links handed to the offload (waiting for their transfers before delivering). */
  offloading: z.number().int().min(0).default(0),
});

export const SKIP_KINDS = ['skipped', 'filtered', 'failed'] as const;

export const skippedEventSchema = z.object({
  type: z.literal('skipped'),
  at,
  ...detectionFields,
  window: z.object({ reason: z.string(), send: z.boolean() }).nullable(),
  rules: z.array(ruleFactSchema).default([]),
  reason: z.string(),
  detail: z.string().nullable(),
  /** `filtered` (a content policy), `skipped` (the time window), `failed` (no target configured). */
  kind: z.enum(SKIP_KINDS),
});

export const OFFLOAD_OUTCOMES = ['transferred', 'cached', 'failed', 'not_finished'] as const;

export const offloadEventSchema = z.object({
  type: z.literal('offload'),
  at,
  links: z.array(
    z.object({
      index: z.number().int().min(0),
      provider: z.string(),
      outcome: z.enum(OFFLOAD_OUTCOMES),
      reason: z.string().nullable(),
      detail: z.string().nullable(),
    }),
  ),
});

/**
 * The delivery jobs queued (one per target). The payload and the real target URL stay in the delivery job
 * (BullMQ keeps it as long as a journey, see the catalog): the journey never copies an email's body.
 */
export const dispatchedEventSchema = z.object({
  type: z.literal('dispatched'),
  at,
  deliveries: z.array(
    z.object({
      webhook_id: z.string(),
      job_id: z.string(),
      /** Masked. */
      target: z.string(),
      origin: z.string(),
      priority: z.number().int(),
      /** `targetIdOf(url)` (absent on events written before it existed). */
      target_id: z.string().optional(),
    }),
  ),
});

export const ATTEMPT_OUTCOMES = ['delivered', 'retrying', 'failed'] as const;

export const attemptEventSchema = z.object({
  type: z.literal('attempt'),
  at,
  webhook_id: z.string(),
  job_id: z.string(),
  attempt: z.number().int().min(1),
  max_attempts: z.number().int().min(1),
  outcome: z.enum(ATTEMPT_OUTCOMES),
  status_code: z.number().int().nullable(),
  duration_ms: z.number().min(0),
  failure_reason: z.string().nullable(),
  response_excerpt: excerpt.nullable(),
  /** accepted → delivered (delivered attempts of email deliveries). */
  end_to_end_ms: z.number().min(0).nullable(),
  /** Sent by an operator's re-delivery (same webhook-id, another job). */
  redelivery: z.boolean(),
});

export const retryScheduledEventSchema = z.object({
  type: z.literal('retry_scheduled'),
  at,
  webhook_id: z.string(),
  job_id: z.string(),
  next_attempt_at: at,
});

export const redeliveredEventSchema = z.object({
  type: z.literal('redelivered'),
  at,
  deliveries: z.array(z.object({ webhook_id: z.string(), job_id: z.string() })),
  /** Set when a bulk replay sent it (« renvoyé (renvoi groupé <id>) »), with who started the replay. */
  replay_id: z.string().optional(),
  by: z.string().optional(),
});

export const cancelledEventSchema = z.object({
  type: z.literal('cancelled'),
  at,
  jobs: z.array(z.object({ webhook_id: z.string(), job_id: z.string(), state: z.string() })),
});

export const journeyEventSchema = z.discriminatedUnion('type', [
  receivedEventSchema,
  plannedEventSchema,
  skippedEventSchema,
  offloadEventSchema,
  dispatchedEventSchema,
  attemptEventSchema,
  retryScheduledEventSchema,
  redeliveredEventSchema,
  cancelledEventSchema,
]);
export type JourneyEvent = z.infer<typeof journeyEventSchema>;
/** What producers write (defaults may be left out). */
export type JourneyEventInput = z.input<typeof journeyEventSchema>;
export type EventOf<T extends JourneyEvent['type']> = Extract<JourneyEvent, { type: T }>;
