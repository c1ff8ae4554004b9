import { z } from 'zod';
import { ingressPayloadSchema } from './ingress';
import { payloadSettingsSchema } from './payload-settings';

/** How an email reached us: the HTTP ingress (Apps Script) or a Gmail push sync. */
export const ARRIVAL_SOURCES = ['apps_script', 'gmail_push'] as const;
export type ArrivalSource = (typeof ARRIVAL_SOURCES)[number];

/** Data of the `email.process` job: one accepted email. */
export const processEmailJobSchema = z.object({
  email_id: z.string().min(1),
  /** Epoch ms when the ingress accepted it (end-to-end latency starts here). */
  accepted_at: z.number().int(),
  /** Absent on jobs queued before it existed: read as `apps_script`. */
  source: z.enum(ARRIVAL_SOURCES).optional(),
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

/**
 * The original's per-delivery `failure_reason` values (kept: dashboards and scripts read them), plus `timeout`,
 * `network_error`, `blocked_target`, `no_target` and `template_error` (a payload template that failed) for failures it never saw.
 */
export const FAILURE_REASONS = [
  'bot_protection_denied',
  'unsupported_media_type',
  'rate_limited',
  'upstream_server_error',
  'upstream_client_error',
  'remote_application_error',
  'request_failed',
  'timeout',
  'network_error',
  'blocked_target',
  'no_target',
  'template_error',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** What one failed delivery attempt left behind (status, reason, excerpt, time, the target's Retry-After). */
export const attemptFactsSchema = z.object({
  status: z.number().int().optional(),
  failure_reason: z.enum(FAILURE_REASONS),
  response_excerpt: z.string().optional(),
  duration_ms: z.number().min(0),
  retry_after_ms: z.number().min(0).optional(),
});
export type AttemptFacts = z.infer<typeof attemptFactsSchema>;

/** Data of the `delivery.deliver` job: one webhook to one target. */
export const deliverWebhookJobSchema = z.object({
  email_id: z.string().min(1),
  accepted_at: z.number().int(),
  /** Standard Webhooks `webhook-id`: stable per email + target, receivers dedup on it. */
  webhook_id: z.string().min(1),
  target: deliveryTargetSchema,
  /** The standard JSON body (key order preserved): sent as is unless `payload_format` says otherwise. */
  payload: z.record(z.string(), z.unknown()),
  /**
   * The body the target wants when not the standard one (`flat`, `template`): rendered from `payload` at each
   * attempt (packages/delivery/src/payload-format.ts). Absent: `payload` is sent as is.
   */
  payload_format: payloadSettingsSchema.optional(),
  /** What the routing rules extracted from the email (flat's `extracted_<name>`, a template's `extracted`). */
  extracted: z.record(z.string(), z.string()).optional(),
  subject: z.string().default(''),
  /** processing_prefs.retry_delay_sec: no retry comes sooner than this (ms). */
  retry_floor_ms: z.number().int().min(0).optional(),
  /** `failure_notification` deliveries never trigger another notification. */
  kind: z.enum(['email', 'failure_notification', 'test']).default('email'),
  /**
   * Set when the email job's fast path made the first attempt and it failed: this job takes over from attempt 2,
   * with its own retry state. Its first run records that attempt (job log, dead letter) without sending again,
   * then drops this field, so a replay from the dead letter sends.
   */
  first_attempt: z.object({ permanent: z.boolean(), facts: attemptFactsSchema }).optional(),
});
export type DeliverWebhookJob = z.infer<typeof deliverWebhookJobSchema>;

/** The named fields of a delivery job (input of `deliveryJobData`): what every producer of one states. */
export interface DeliveryJobFields {
  email_id: string;
  accepted_at: number;
  webhook_id: string;
  target: DeliverWebhookJob['target'];
  payload: DeliverWebhookJob['payload'];
  subject: string;
  kind: DeliverWebhookJob['kind'];
  retry_floor_ms?: number | undefined;
  first_attempt?: DeliverWebhookJob['first_attempt'] | undefined;
  /** A flat / template target's format (absent for a standard one: its job data as before). */
  payload_format?: DeliverWebhookJob['payload_format'] | undefined;
  extracted?: DeliverWebhookJob['extracted'] | undefined;
}

/**
 * The one builder of a `delivery.deliver` job's data, from named fields (optional ones left out when absent):
 * the email job (fan-out, fast path, hand-over) and the API's re-delivery build theirs here, so no producer copies
 * another job's transient state (a pending `first_attempt`) by spreading it.
 */
export function deliveryJobData(fields: DeliveryJobFields): DeliverWebhookJob {
  return {
    email_id: fields.email_id,
    accepted_at: fields.accepted_at,
    webhook_id: fields.webhook_id,
    target: fields.target,
    payload: fields.payload,
    ...(fields.payload_format ? { payload_format: fields.payload_format } : {}),
    ...(fields.extracted ? { extracted: fields.extracted } : {}),
    subject: fields.subject,
    ...(fields.retry_floor_ms !== undefined ? { retry_floor_ms: fields.retry_floor_ms } : {}),
    kind: fields.kind,
    ...(fields.first_attempt ? { first_attempt: fields.first_attempt } : {}),
  };
}

/**
 * The `email.process` job's return value (kept by BullMQ with the completed job). `delivery`: the delivery job a
 * fast-path email did not need, set only when journeys are off (with journeys, the journey's `sent` event holds
 * it) and on jobs completed before that; the API still reads it back there.
 */
export const emailJobResultSchema = z.object({
  /** Targets the email went to (delivery jobs enqueued, or 1 on the fast path). */
  deliveries: z.number().int().min(0),
  /** The skip reason (pipeline SkipReason) when the email went nowhere. */
  skipped: z.string().optional(),
  /** Links handed to offload transfers before delivering. */
  offloads: z.number().int().min(0).optional(),
  /** Fast path: `delivered` by this job, or `handed_over` to a delivery job after a failed attempt. */
  fast_path: z.enum(['delivered', 'handed_over']).optional(),
  delivery: deliverWebhookJobSchema.optional(),
});
export type EmailJobResult = z.infer<typeof emailJobResultSchema>;

/** Data of the `offload.transfer` job: one link of one email copied to R2/S3. */
export const offloadLinkJobSchema = z.object({
  email_id: z.string().min(1),
  index: z.number().int().min(0),
  link: z.object({ provider: z.string(), raw_url: z.string() }),
  /** Epoch ms after which the transfer is abandoned: the webhook leaves with the source URLs. */
  deadline_at: z.number().int(),
});
export type OffloadLinkJob = z.infer<typeof offloadLinkJobSchema>;
