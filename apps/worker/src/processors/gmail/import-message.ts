import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { ImportMessageJob } from '@render-signal/contracts';
import {
  describeUnreadable,
  GmailApiError,
  gmailClientForMailbox,
  GmailRateLimitError,
  messageFetchFailure,
  messageToIngress,
  TokenRevokedError,
  type GmailClient,
} from '@render-signal/gmail';
import { ingestEmail } from '@render-signal/ingest';
import type { Logger } from '@render-signal/observability';
import type { GmailSyncContext } from './sync-mailbox';

export type ImportMessageContext = Pick<
  GmailSyncContext,
  'logger' | 'mailboxes' | 'tokens' | 'gmailBaseUrl' | 'ingest' | 'errorLabel' | 'metrics'
>;

export type ImportOutcome =
  | { outcome: 'ingested' | 'duplicate'; mailbox: string; email_id: string; status: string }
  | { outcome: 'gone'; mailbox: string; email_id: string };

/**
 * gmail.import-message — one message the sync could not read, read again. Still unreadable: the job
 * fails for good (UnrecoverableError: the same bytes give the same error) and stays in the gmail
 * queue's failed set with the Gmail id in its data and the cause as its reason: the dead letter the
 * operator sees in /health (dead_letters), Bull Board and `npm run replay -- --queue gmail`. When the
 * mailbox granted gmail.modify, the message also gets the Apps Script's error label in Gmail. A
 * transient failure (Gmail 5xx, paused ingress) is retried with the queue's backoff; a lasting Gmail
 * error about the message itself (400, a 403 that is not a rate limit) fails for good at once. It never
 * looks at the mailbox's seen set: a replay reads the message whatever the sync remembered.
 */
export async function importMessage(
  job: Job<ImportMessageJob>,
  token: string | undefined,
  ctx: ImportMessageContext,
): Promise<ImportOutcome> {
  const { email_address: address, message_id: id } = job.data;
  const logger = ctx.logger.child({ mailbox: address, email_id: id });
  const mailbox = await ctx.mailboxes.get(address);
  if (!mailbox) throw new UnrecoverableError(`mailbox ${address} is not connected`);
  if (mailbox.state !== 'active') throw new Error(`mailbox ${address} needs re-authorisation (gmail:connect)`);
  const client = gmailClientForMailbox(address, ctx.tokens, { baseUrl: ctx.gmailBaseUrl });
  try {
    let raw;
    try {
      raw = await client.getRawMessage(id);
    } catch (error) {
      if (messageFetchFailure(error) === 'mailbox') throw error;
      logger.error('gmail.message_dead_lettered', { error: (error as Error).message });
      throw new UnrecoverableError(`Gmail message ${id} of ${address} could not be fetched: ${(error as Error).message}`);
    }
    if (!raw) {
      ctx.metrics.gmailMessagesGone.inc({ stage: 'import' });
      logger.warn('gmail.message_gone', {});
      return { outcome: 'gone', mailbox: address, email_id: id };
    }
    let email;
    try {
      email = await messageToIngress(raw);
    } catch (error) {
      const reason = describeUnreadable(error);
      const labelled = mailbox.labelErrors && ctx.errorLabel ? await labelAsError(client, id, ctx.errorLabel, logger) : false;
      logger.error('gmail.message_dead_lettered', { error: reason, error_label: labelled ? ctx.errorLabel : null });
      throw new UnrecoverableError(`Gmail message ${id} of ${address} ${reason}`);
    }
    const result = await ingestEmail(email, ctx.ingest);
    if (result.status === 'ingress_disabled' || result.status === 'sending_disabled') {
      throw new Error(`not taken in: ${result.status} (retried)`);
    }
    logger.info('gmail.message_imported', { status: result.status });
    return { outcome: result.status === 'queued' ? 'ingested' : 'duplicate', mailbox: address, email_id: id, status: result.status };
  } catch (error) {
    if (error instanceof TokenRevokedError) {
      const marked = await ctx.mailboxes.markNeedsReauth(address, error.code, error.grant ?? mailbox.grant);
      logger.error('gmail.token_revoked', { code: error.code, reason: error.reason, marked });
    }
    if (error instanceof GmailRateLimitError && error.retryAt !== undefined && token) {
      await job.moveToDelayed(error.retryAt, token);
      throw new DelayedError();
    }
    throw error;
  }
}

/**
 * The Apps Script's error label on the message (created when missing). Best effort: a read-only
 * grant or a Gmail error is logged, the dead letter is what counts.
 */
async function labelAsError(client: GmailClient, id: string, name: string, logger: Logger): Promise<boolean> {
  try {
    const existing = (await client.listLabels()).find((l) => l.name === name);
    const label = existing ?? (await client.createLabel(name));
    await client.addLabels(id, [label.id]);
    return true;
  } catch (error) {
    logger.warn('gmail.error_label_failed', {
      error: error instanceof GmailApiError ? `${error.status} ${error.reason}` : (error as Error).message,
    });
    return false;
  }
}
