import { hash } from 'node:crypto';
import type { EmailContent } from './ingress';

/**
 * The bare lower-cased address of a From header, as Python's `email.utils.parseaddr(sender)[1]` gives it:
 * `"Name <a@b>"` → `a@b`, `"a@b (Name)"` → `a@b`; when nothing address-like is found, the trimmed header.
 */
export function parseSenderAddress(sender: string): string {
  const angle = /<([^<>]*)>\s*$/.exec(sender) ?? /<([^<>]*)>/.exec(sender);
  let address = angle ? angle[1]!.trim() : sender.replace(/\([^()]*\)/g, ' ').trim();
  if (!angle && /\s/.test(address)) {
    // parseaddr keeps only the address token when a display name precedes it without brackets.
    const token = address.split(/\s+/).find((part) => part.includes('@'));
    if (token) address = token;
  }
  return (address || sender.trim()).toLowerCase();
}

/**
 * The email id: the Gmail message id when the payload carries one (distinct messages never merge),
 * else the original's md5 of `subject|sender_email|date`, so ids match across a migration.
 */
export function computeEmailId(email: Pick<EmailContent, 'subject' | 'sender' | 'date' | 'message_id'>): string {
  if (email.message_id) return email.message_id;
  const key = `${email.subject ?? ''}|${parseSenderAddress(email.sender)}|${email.date ?? ''}`;
  return hash('md5', key, 'hex');
}
