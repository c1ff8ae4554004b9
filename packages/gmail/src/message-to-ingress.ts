import { decodeHTML } from 'entities';
import PostalMime, { type Address } from 'postal-mime';
import { ingressPayloadSchema, type EmailContent } from '@render-signal/contracts';
import type { RawMessage } from './gmail-client';

/** The Apps Script's snippet: the first 200 characters of the plain-text body. */
export const SNIPPET_LENGTH = 200;

/**
 * A Gmail message (format=raw) → the ingress contract, the same fields the Apps Script sends:
 * HTML body (the text body in <pre> when there is no HTML part), From as sender, the receive time
 * (Gmail's internalDate, what the Apps Script's getDate() gives; the Date header only when Gmail has
 * none), the start of the plain-text body as snippet, ids and labels. Pure apart from parsing. Throws
 * (a ZodError) when the result breaks the ingress contract, as the HTTP ingress would answer 400.
 */
export async function messageToIngress(message: RawMessage): Promise<EmailContent> {
  const parsed = await PostalMime.parse(Buffer.from(message.raw, 'base64url'));
  const from = parsed.from ? formatAddresses([parsed.from]) : '';
  const payload = {
    subject: parsed.subject ?? '',
    sender: from || headerValue(parsed.headers, 'from') || '(unknown sender)',
    date: isoDate(message.internalDate, parsed.date),
    body: parsed.html?.trim() ? parsed.html.trimEnd() : parsed.text?.trim() ? `<pre>${escapeHtml(parsed.text.trimEnd())}</pre>` : ' ',
    snippet: plainText(parsed.text, parsed.html).slice(0, SNIPPET_LENGTH),
    message_id: message.id,
    ...(message.threadId ? { thread_id: message.threadId } : {}),
    ...(parsed.messageId ? { rfc_message_id: parsed.messageId } : {}),
    to: formatAddresses(parsed.to ?? []),
    cc: formatAddresses(parsed.cc ?? []),
    labels: message.labelIds ?? [],
  };
  return ingressPayloadSchema.parse(payload);
}

/**
 * Which messages are emails to process, as the Apps Script decides: drafts change on every keystroke,
 * spam and trash are never sent, and mail the account sent itself (SENT, which Gmail also sets on mail
 * to yourself and from your aliases) is skipped unless `sendOwnMessages` (the Apps Script's
 * SEND_OWN_MESSAGES; here GMAIL_SEND_OWN_MESSAGES), which keeps mail to yourself (SENT + INBOX).
 */
export function isIncomingMessage(labelIds: readonly string[] | undefined, options: { sendOwnMessages?: boolean } = {}): boolean {
  const labels = labelIds ?? [];
  if (labels.includes('DRAFT') || labels.includes('SPAM') || labels.includes('TRASH')) return false;
  if (labels.includes('SENT') && !(options.sendOwnMessages && labels.includes('INBOX'))) return false;
  return true;
}

/** `Name <address>` like Gmail's getFrom(); groups are flattened. */
export function formatAddresses(addresses: readonly Address[]): string {
  const one = (name: string, address: string) => {
    if (!name) return address;
    const safeName = /[",;<>@()[\]:\\]/.test(name) ? `"${name.replace(/["\\]/g, '\\$&')}"` : name;
    return `${safeName} <${address}>`;
  };
  return addresses.flatMap((a) => (a.group ? a.group.map((m) => one(m.name, m.address)) : [one(a.name, a.address)])).join(', ');
}

function headerValue(headers: ReadonlyArray<{ key: string; value: string }>, key: string): string {
  return headers.find((h) => h.key === key)?.value.trim() ?? '';
}

/**
 * Gmail's receive time (internalDate, epoch ms: Google calls it more reliable than the sender's
 * Date header, and it is what the Apps Script sends); the Date header when Gmail gave none.
 */
function isoDate(internalDate: string | undefined, header: string | undefined): string {
  const received = internalDate && /^\d+$/.test(internalDate) ? Number(internalDate) : Number.NaN;
  if (Number.isFinite(received) && received > 0) return new Date(received).toISOString();
  const fromHeader = header ? Date.parse(header) : Number.NaN;
  return Number.isFinite(fromHeader) ? new Date(fromHeader).toISOString() : (header ?? '');
}

/**
 * The plain-text body, as Apps Script's getPlainBody(): the text part, or the HTML part's text when
 * the message has only HTML (tags and style/script blocks dropped, entities decoded, blank runs collapsed).
 */
export function plainText(text: string | undefined, html: string | undefined): string {
  if (text?.trim()) return text;
  if (!html) return '';
  const stripped = html
    .replace(/<(style|script|head)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h[1-6])\s*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ');
  return decodeHTML(stripped)
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+/g, ' ').trim())
    .filter(Boolean)
    .join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
