import PostalMime, { type Address } from 'postal-mime';
import { ingressPayloadSchema, type EmailContent } from '@render-signal/contracts';
import type { RawMessage } from './gmail-client';

/**
 * A Gmail message (format=raw) → the ingress contract, the same fields the Apps Script sends:
 * HTML body (the text body in <pre> when there is no HTML part), From as sender, Date as ISO,
 * Gmail's snippet, ids and labels. Pure apart from parsing.
 */
export async function messageToIngress(message: RawMessage): Promise<EmailContent> {
  const parsed = await PostalMime.parse(Buffer.from(message.raw, 'base64url'));
  const from = parsed.from ? formatAddresses([parsed.from]) : '';
  const payload = {
    subject: parsed.subject ?? '',
    sender: from || headerValue(parsed.headers, 'from') || '(unknown sender)',
    date: isoDate(parsed.date, message.internalDate),
    body: parsed.html?.trim() ? parsed.html.trimEnd() : parsed.text?.trim() ? `<pre>${escapeHtml(parsed.text.trimEnd())}</pre>` : ' ',
    ...(message.snippet !== undefined ? { snippet: message.snippet.slice(0, 10_000) } : {}),
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
 * Which added messages are emails to process: drafts change on every keystroke and the user's own
 * sent mail is not incoming (a message to oneself carries INBOX too and is kept).
 */
export function isIncomingMessage(labelIds: readonly string[] | undefined): boolean {
  const labels = labelIds ?? [];
  if (labels.includes('DRAFT')) return false;
  if (labels.includes('SENT') && !labels.includes('INBOX')) return false;
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

/** The Date header as ISO; Gmail's receive time when the header is missing or unreadable. */
function isoDate(header: string | undefined, internalDate: string | undefined): string {
  const fromHeader = header ? Date.parse(header) : Number.NaN;
  if (Number.isFinite(fromHeader)) return new Date(fromHeader).toISOString();
  const received = internalDate ? Number(internalDate) : Number.NaN;
  return Number.isFinite(received) ? new Date(received).toISOString() : (header ?? '');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
