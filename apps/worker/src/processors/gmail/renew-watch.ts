import { GmailApiError, gmailClientForMailbox, TokenRevokedError } from '@render-signal/gmail';
import type { GmailSyncContext } from './sync-mailbox';

export interface RenewWatchContext extends Pick<GmailSyncContext, 'logger' | 'mailboxes' | 'tokens' | 'gmailBaseUrl' | 'labelId'> {
  topicName: string;
}

/**
 * gmail.renew-watch — users.watch again for every active mailbox (a watch lapses after 7 days;
 * renewing is idempotent and Google recommends daily). Run by a job scheduler with a fixed id, so
 * once per period whatever the number of workers. The stored history id is left alone: it is where
 * the sync stands, not where the watch starts. A failure for one mailbox does not stop the others;
 * it is recorded on the mailbox at once (/health shows it before the watch lapses), and the job then
 * fails and is retried (renewing twice is harmless). A success clears it.
 */
export async function renewWatches(ctx: RenewWatchContext): Promise<{ renewed: number; needs_reauth: number; failed: number }> {
  const summary = { renewed: 0, needs_reauth: 0, failed: 0 };
  const failures: string[] = [];
  for (const mailbox of await ctx.mailboxes.list()) {
    if (mailbox.state !== 'active') continue;
    const logger = ctx.logger.child({ mailbox: mailbox.address });
    try {
      const client = gmailClientForMailbox(mailbox.address, ctx.tokens, { baseUrl: ctx.gmailBaseUrl });
      const watch = await client.watch({ topicName: ctx.topicName, labelIds: ctx.labelId ? [ctx.labelId] : [] });
      await ctx.mailboxes.recordWatch(mailbox.address, Number(watch.expiration));
      summary.renewed += 1;
      logger.info('gmail.watch_renewed', { expires_at: new Date(Number(watch.expiration)).toISOString() });
    } catch (error) {
      if (error instanceof TokenRevokedError) {
        await ctx.mailboxes.markNeedsReauth(mailbox.address, error.code, error.grant ?? mailbox.grant);
        logger.error('gmail.token_revoked', { code: error.code, reason: error.reason });
        summary.needs_reauth += 1;
        continue;
      }
      summary.failed += 1;
      failures.push(mailbox.address);
      const message = error instanceof GmailApiError ? `${error.status} ${error.reason}` : (error as Error).message;
      await ctx.mailboxes.recordWatchFailure(mailbox.address, message).catch(() => {});
      logger.error('gmail.watch_renew_failed', { error: (error as Error).message });
    }
  }
  if (failures.length > 0) throw new Error(`users.watch failed for ${failures.length} mailbox(es)`);
  return summary;
}
