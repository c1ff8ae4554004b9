import { z } from 'zod';
import { ARRIVAL_SOURCES, deliveryTargetSchema, payloadSettingsSchema, type ArrivalSource } from '@render-signal/contracts';

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
  detector: z.string().nullable().default(null),
  delivery_time: z.string().nullable().default(null),
  is_urgent: z.boolean().optional(),
};

export const plannedEventSchema = z.object({
  type: z.literal('planned'),
  at,
  ...detectionFields,
  /** The time-window verdict (decideWindowOutcome's reason) and whether it let the email go. */
  window: z.object({ reason: z.string(), send: z.boolean() }),
  rules: z.array(ruleFactSchema).default([]),
  stopped_by: z.string().nullable().default(null),
  links: z.array(z.object({ provider: z.string(), raw_url: z.string() })),
  /** Targets masked (`scheme://host/***`): the real URLs are only in `dispatched`, never shown. */
  targets: z.array(z.object({ webhook_id: z.string(), target: z.string(), origin: z.string(), priority: z.number().int() })),
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
 * The deliveries planned (one per target). The payload and the real target URL stay in the delivery job (BullMQ
 * keeps it as long as a journey, see the catalog), or, for a delivery made by the email job itself (the fast
 * path), in the journey's `sent` event.
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
    }),
  ),
});

/**
 * What the email job sent itself (the fast path): the delivery job it did not need, kept for the console's
 * payload view and re-delivery. Holds the real target URL: never part of the folded view (the API reads it
 * through `sentDeliveries` only), never in the timeline.
 */
export const sentEventSchema = z.object({
  type: z.literal('sent'),
  at,
  webhook_id: z.string(),
  target: deliveryTargetSchema,
  /** The exact JSON body (key order kept): JSON.stringify of it is the bytes sent and signed. */
  payload: z.record(z.string(), z.unknown()),
  retry_floor_ms: z.number().int().min(0).optional(),
  /** A flat / template target: the body sent was rendered from `payload` with this format (and `extracted`). */
  payload_format: payloadSettingsSchema.optional(),
  extracted: z.record(z.string(), z.string()).optional(),
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
  status_code: z.number().int().nullable().default(null),
  duration_ms: z.number().min(0),
  failure_reason: z.string().nullable().default(null),
  response_excerpt: excerpt.nullable().default(null),
  /** accepted → delivered (delivered attempts of email deliveries). */
  end_to_end_ms: z.number().min(0).nullable().default(null),
  /** Sent by an operator's re-delivery (same webhook-id, another job). */
  redelivery: z.boolean().default(false),
});

export const retryScheduledEventSchema = z.object({
  type: z.literal('retry_scheduled'),
  at,
  webhook_id: z.string(),
  job_id: z.string(),
  next_attempt_at: at,
});

/** The delivery waits because its target is paused (destination health): « retenu : cible en pause » until it is sent. */
export const heldEventSchema = z.object({
  type: z.literal('held'),
  at,
  webhook_id: z.string(),
  job_id: z.string(),
});

export const redeliveredEventSchema = z.object({
  type: z.literal('redelivered'),
  at,
  deliveries: z.array(z.object({ webhook_id: z.string(), job_id: z.string() })),
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
  sentEventSchema,
  attemptEventSchema,
  retryScheduledEventSchema,
  heldEventSchema,
  redeliveredEventSchema,
  cancelledEventSchema,
]);
export type JourneyEvent = z.infer<typeof journeyEventSchema>;
/** What producers write (defaults may be left out). */
export type JourneyEventInput = z.input<typeof journeyEventSchema>;
export type EventOf<T extends JourneyEvent['type']> = Extract<JourneyEvent, { type: T }>;

/**
 * Fields left out of a stored line when they hold their schema's default (read back, the schema restores them):
 * a delivered email's journey is written once per email and kept for days, so its empty and default fields are
 * not. Only fields whose schema has that `.default()` are listed (events.test.ts checks the round trip).
 */
const STORED_DEFAULTS: Partial<Record<JourneyEvent['type'], Record<string, unknown>>> = {
  received: { job_id: null },
  planned: { detector: null, delivery_time: null, rules: [], stopped_by: null, offloading: 0 },
  skipped: { detector: null, delivery_time: null, rules: [] },
  attempt: { status_code: null, failure_reason: null, response_excerpt: null, end_to_end_ms: null, redelivery: false },
};
/** deliveryTargetSchema's defaults (a `sent` event's target keeps only what differs). */
const TARGET_DEFAULTS: Record<string, unknown> = { mode: 'json', fallback_on_415: true, tls_verify: true, require_success_flag: false };

const isDefault = (value: unknown, fallback: unknown) =>
  value === fallback || (Array.isArray(value) && Array.isArray(fallback) && value.length === 0 && fallback.length === 0);

function withoutDefaults(object: Record<string, unknown>, defaults: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) if (!(key in defaults) || !isDefault(value, defaults[key])) out[key] = value;
  return out;
}

/**
 * The form an event is stored in: its default-valued fields left out, and a `job_id` equal to its `webhook_id`
 * (a first delivery job, or the fast path) too. `parseStoredEvent` gives them back.
 */
export function storedEvent(event: JourneyEvent): Record<string, unknown> {
  switch (event.type) {
    case 'sent':
      return { ...event, target: withoutDefaults(event.target, TARGET_DEFAULTS) };
    case 'attempt': {
      const { job_id, ...rest } = event;
      return withoutDefaults(job_id === event.webhook_id ? rest : event, STORED_DEFAULTS.attempt!);
    }
    case 'dispatched':
      return { ...event, deliveries: event.deliveries.map(({ job_id, ...d }) => (job_id === d.webhook_id ? d : { ...d, job_id })) };
    default: {
      const defaults = STORED_DEFAULTS[event.type];
      return defaults ? withoutDefaults(event, defaults) : event;
    }
  }
}

/** A stored event read back: the `job_id` left out when it was the `webhook_id` restored, then validated. */
export function parseStoredEvent(raw: unknown): ReturnType<typeof journeyEventSchema.safeParse> {
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const item = raw as Record<string, unknown>;
    if (item.type === 'attempt' && item.job_id === undefined) return journeyEventSchema.safeParse({ ...item, job_id: item.webhook_id });
    if (item.type === 'dispatched' && Array.isArray(item.deliveries))
      return journeyEventSchema.safeParse({
        ...item,
        deliveries: (item.deliveries as unknown[]).map((d) =>
          d && typeof d === 'object' && (d as Record<string, unknown>).job_id === undefined
            ? { ...d, job_id: (d as Record<string, unknown>).webhook_id }
            : d,
        ),
      });
  }
  return journeyEventSchema.safeParse(raw);
}
