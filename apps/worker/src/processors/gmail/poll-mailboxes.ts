import type { Producer, gmailQueue } from '@render-signal/queue';
import { syncJobOptions, type MailboxStore } from '@render-signal/gmail';

/**
 * gmail.poll — the backup poll: a sync for every active mailbox, because Google may delay or drop
 * notifications. Same deduplication id as the push endpoint, so a poll during a burst adds nothing.
 */
export async function pollMailboxes(ctx: { mailboxes: MailboxStore; producer: Producer<typeof gmailQueue> }): Promise<{ queued: number }> {
  const active = (await ctx.mailboxes.list()).filter((m) => m.state === 'active');
  for (const mailbox of active) {
    await ctx.producer.add('sync', { email_address: mailbox.address, trigger: 'poll' }, syncJobOptions(mailbox.address));
  }
  return { queued: active.length };
}
