import { z } from 'zod';

/** Gmail push ingress jobs (queue `gmail`). Mailbox addresses are lower-cased. */

/** Sync one mailbox from its stored history id. At most one runs per mailbox (see the catalog). */
export const syncMailboxJobSchema = z.object({
  email_address: z.string().min(3),
  /** What asked for it; the history id of a push notification, for the logs. */
  trigger: z.enum(['push', 'poll', 'watch']),
  notified_history_id: z.string().optional(),
});
export type SyncMailboxJob = z.infer<typeof syncMailboxJobSchema>;

/** Daily users.watch renewal of every active mailbox (a watch lapses after 7 days). */
export const renewWatchJobSchema = z.object({}).default({});
export type RenewWatchJob = z.infer<typeof renewWatchJobSchema>;

/** Backup poll: a sync for every active mailbox, for notifications Google delayed or dropped. */
export const pollMailboxesJobSchema = z.object({}).default({});
export type PollMailboxesJob = z.infer<typeof pollMailboxesJobSchema>;
