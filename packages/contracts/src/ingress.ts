import { z } from 'zod';

/**
 * The ingress contract: what the Apps Script (the original's and ours) POSTs to /api/ingress/gmail.
 * `sender` and `body` are required; everything else is optional. Unknown keys are ignored, as in the original.
 */
const MAX_HEADER_FIELD = 4_096; // subject, sender, addresses: far above any real header, bounds hostile input
const MAX_ID = 512;

const headerText = (max = MAX_HEADER_FIELD) => z.string().max(max, `must be at most ${max} characters`);

/** The original's messages for its two required fields, whatever is wrong with them. */
const requiredText = (field: string) =>
  z.string({
    error: (issue) =>
      issue.input === undefined || issue.input === null ? `Missing field: ${field}` : `Invalid field: ${field} must be a string`,
  });

export const ingressPayloadSchema = z.object({
  subject: headerText().default(''),
  sender: requiredText('sender')
    .max(MAX_HEADER_FIELD, `must be at most ${MAX_HEADER_FIELD} characters`)
    .trim()
    .min(1, 'Missing field: sender'),
  date: headerText(256).default(''),
  /** HTML body as Gmail's getBody() returns it. Bounded by the HTTP body limit. */
  body: requiredText('body').min(1, 'Missing field: body'),
  snippet: z.string().max(10_000).optional(),
  /** Gmail message id: when present it is the email_id, so distinct messages never merge. */
  message_id: z
    .string()
    .trim()
    .min(1)
    .max(MAX_ID)
    .regex(/^[A-Za-z0-9_.-]+$/, 'may only contain letters, digits, "_", "." and "-"')
    .optional(),
  thread_id: z.string().max(MAX_ID).optional(),
  rfc_message_id: z.string().max(MAX_HEADER_FIELD).optional(),
  to: headerText(32_768).optional(),
  cc: headerText(32_768).optional(),
  labels: z.array(z.string().max(256)).max(200).optional(),
});

export type IngressPayload = z.infer<typeof ingressPayloadSchema>;

/** The email as the pipeline sees it (ingress payload after validation). */
export type EmailContent = IngressPayload;
