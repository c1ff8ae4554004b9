import { type EmailContent, parseSenderAddress } from '@render-signal/contracts';
import type { Detection } from '@render-signal/detectors';

/** One delivery link as sent: the original's keys, in its order; the offload adds the optional ones. */
export interface PayloadDeliveryLink {
  provider: string;
  raw_url: string;
  direct_url?: string;
  r2_url?: string;
  original_filename?: string;
}

export interface WebhookPayloadInput {
  emailId: string;
  email: EmailContent;
  detection: Detection;
  window: { webhooks_time_start?: string; webhooks_time_end?: string };
  links: readonly PayloadDeliveryLink[];
  /** The rule that sent the email to this target, if any. */
  routingRule?: { id: string; name: string; priority: string };
}

const BODY_PREVIEW_CODE_POINTS = 200;

/** The first 200 characters, counted like Python's `body[:200]` (code points: an emoji is never cut in half). */
export function bodyPreview(body: string): string {
  let end = 0;
  let count = 0;
  while (end < body.length && count < BODY_PREVIEW_CODE_POINTS) {
    end += body.codePointAt(end)! > 0xffff ? 2 : 1;
    count += 1;
  }
  return body.slice(0, end);
}

function payloadLink(link: PayloadDeliveryLink): PayloadDeliveryLink {
  const out: PayloadDeliveryLink = { provider: link.provider, raw_url: link.raw_url };
  if (link.direct_url !== undefined) out.direct_url = link.direct_url;
  if (link.r2_url !== undefined) out.r2_url = link.r2_url;
  if (link.original_filename !== undefined) out.original_filename = link.original_filename;
  return out;
}

/**
 * The webhook body: every field of the original's Gmail payload with the same names and key order (docs/original-behaviour.md, "Webhook
 * payload"), then
 * ours appended (`email_id`, `routing_rule`, `message_id`, `thread_id`). Optional fields are absent, never null.
 */
export function buildWebhookPayload(input: WebhookPayloadInput): Record<string, unknown> {
  const { email, detection, window } = input;
  const payload: Record<string, unknown> = {
    microsoft_graph_email_id: input.emailId,
    subject: email.subject ?? '',
    receivedDateTime: email.date ?? '',
    sender_address: email.sender,
    bodyPreview: bodyPreview(email.body),
    email_content: email.body,
    source: 'gmail_push',
    sender_email: parseSenderAddress(email.sender),
  };
  if (detection.detector) payload.detector = detection.detector;
  if (detection.detector === 'recadrage' && detection.delivery_time) payload.delivery_time = detection.delivery_time;
  if (window.webhooks_time_start) payload.webhooks_time_start = window.webhooks_time_start;
  if (window.webhooks_time_end) payload.webhooks_time_end = window.webhooks_time_end;
  if (input.links.length > 0) payload.delivery_links = input.links.map(payloadLink);

  payload.email_id = input.emailId;
  if (input.routingRule) {
    payload.routing_rule = { id: input.routingRule.id, name: input.routingRule.name, priority: input.routingRule.priority };
  }
  if (email.message_id) payload.message_id = email.message_id;
  if (email.thread_id) payload.thread_id = email.thread_id;
  return payload;
}

/**
 * The exact bytes to POST: JSON as UTF-8 (non-ASCII characters unescaped, as `ensure_ascii=False`), whatever the
 * delivery mode. Compact separators, unlike Python's `", "`/`": "`: receivers parse JSON, not bytes.
 */
export function serializeWebhookPayload(payload: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(payload), 'utf8');
}
