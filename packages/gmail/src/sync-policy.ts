import { ZodError } from 'zod';
import { GmailApiError, GmailRateLimitError, type GmailClient, type HistoryPage } from './gmail-client';
import { isIncomingMessage } from './message-to-ingress';
import { normalizeAddress } from './mailbox-store';

/** Pure decisions of the mailbox sync (the worker's processors only wire them). */

/**
 * The message ids of a history page to take in, each once, in history order:
 * - `messagesAdded` whose labels at that time include the watched label (a message added to spam is
 *   not; it comes back through labelAdded if it ever reaches the inbox);
 * - `labelsAdded` that add the watched label: mail moved out of spam into the inbox, a snoozed
 *   message returning, a message labelled later by hand or by a filter.
 * Without a label filter every added message counts, and labelAdded INBOX brings back what was
 * skipped on arrival (spam, trash). Drafts, spam, trash and the account's own sent mail are left
 * out, as the Apps Script does; the seen set and the email-id dedup drop what was already taken.
 */
export function historyCandidates(page: HistoryPage, options: { labelId: string | undefined; sendOwnMessages?: boolean }): string[] {
  const { labelId } = options;
  const ids: string[] = [];
  const seen = new Set<string>();
  const keep = (id: string, labels: readonly string[] | undefined) => {
    if (seen.has(id) || !isIncomingMessage(labels, options)) return;
    seen.add(id);
    ids.push(id);
  };
  for (const record of page.history ?? []) {
    for (const { message } of record.messagesAdded ?? []) {
      if (labelId && message.labelIds && !message.labelIds.includes(labelId)) continue;
      keep(message.id, message.labelIds);
    }
    const watched = labelId ?? 'INBOX';
    for (const added of record.labelsAdded ?? []) {
      if (!(added.labelIds ?? []).includes(watched)) continue;
      keep(added.message.id, added.message.labelIds);
    }
  }
  return ids;
}

/**
 * Gmail search for a full resync: received after `notBeforeMs` (and before `beforeMs` when given;
 * Gmail's `after:`/`before:` take epoch seconds). Drafts, spam and trash are excluded by messages.list itself.
 */
export function resyncQuery(notBeforeMs: number, beforeMs?: number): string {
  const after = `after:${Math.floor(notBeforeMs / 1000)}`;
  return beforeMs === undefined ? after : `${after} before:${Math.ceil(beforeMs / 1000)}`;
}

/**
 * What a full resync reads: mail received from `listFrom` (the first connection, or the start of the
 * dedup window when that is later: older mail may already have been sent and its seen mark is gone).
 * `unread`: the part of the gap older than the window, from when every message had last been read
 * (`readThroughAt`, else the last sync, else the connection) to the window's start; absent when the
 * gap fits in the window.
 */
export function resyncWindow(input: {
  connectedAt: number;
  readThroughAt: number | undefined;
  lastSyncAt: number | undefined;
  now: number;
  dedupWindowMs: number;
}): { listFrom: number; unread?: { from: number; to: number } } {
  const listFrom = Math.max(input.connectedAt, input.now - input.dedupWindowMs);
  const readUpTo = Math.max(input.connectedAt, input.readThroughAt ?? input.lastSyncAt ?? input.connectedAt);
  return readUpTo < listFrom ? { listFrom, unread: { from: readUpTo, to: listFrom } } : { listFrom };
}

/**
 * A messages.get failure for one message: `message` when it is about that message and will not pass
 * by retrying the whole sync (400, a 403 other than a rate limit, any other 4xx): the message becomes
 * its own import-message job (the dead letter) and the sync goes on. `mailbox` otherwise (5xx, network,
 * rate limits, 401 after a refresh, token refused): the sync stops and is retried from its position.
 */
export function messageFetchFailure(error: unknown): 'message' | 'mailbox' {
  if (!(error instanceof GmailApiError) || error instanceof GmailRateLimitError) return 'mailbox';
  const { status } = error;
  if (status === 401 || status === 408 || status === 429 || status >= 500) return 'mailbox';
  return status >= 400 ? 'message' : 'mailbox';
}

/** One import-message job per (mailbox, Gmail message): a second failure of the same message adds nothing. */
export function importJobId(address: string, messageId: string): string {
  return `gmail-message.${normalizeAddress(address)}.${messageId}`;
}

/** A conversion failure in words: the ingress contract's field errors, not Zod's JSON dump. */
export function describeUnreadable(error: unknown): string {
  if (error instanceof ZodError) {
    return `does not fit the ingress contract: ${error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`;
  }
  return `cannot be parsed: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Whether the label filter names a label of this mailbox. Gmail wants label ids (INBOX, Label_12);
 * a user label's name is refused with a 404 that looks like an expired history id. Answers the
 * operator's fix in words, or undefined when the label exists.
 */
export async function labelFilterProblem(
  client: Pick<GmailClient, 'getLabel' | 'listLabels'>,
  labelId: string,
): Promise<string | undefined> {
  if (await client.getLabel(labelId)) return undefined;
  const byName = (await client.listLabels()).find((l) => l.name.toLowerCase() === labelId.toLowerCase());
  return byName
    ? `GMAIL_LABEL_FILTER="${labelId}" is a label name; Gmail needs the label id: set GMAIL_LABEL_FILTER=${byName.id}`
    : `GMAIL_LABEL_FILTER="${labelId}" is not a label id of this mailbox (see npm run gmail:connect -- --labels <email>)`;
}
