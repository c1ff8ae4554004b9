import { z } from 'zod';

/** Gmail push ingress jobs (queue `gmail`). Mailbox addresses are lower-cased. */

/** Sync one mailbox from its stored history id. At most one runs per mailbox (see the catalog). */
export const syncMailboxJobSchema = z.object({
  email_address: z.string().min(3),
  /** What asked for it; the history id of a push notification, for the logs. */
  trigger: z.enum(['push', 'poll', 'watch', 'connect']),
  notified_history_id: z.string().optional(),
});
export type SyncMailboxJob = z.infer<typeof syncMailboxJobSchema>;

/** Daily users.watch renewal of every active mailbox (a watch lapses after 7 days). */
export const renewWatchJobSchema = z.object({}).default({});
export type RenewWatchJob = z.infer<typeof renewWatchJobSchema>;

/** Backup poll: a sync for every active mailbox, for notifications Google delayed or dropped. */
export const pollMailboxesJobSchema = z.object({}).default({});
export type PollMailboxesJob = z.infer<typeof pollMailboxesJobSchema>;

/**
 * One Gmail message the sync could not turn into an email (conversion or ingress-schema failure, or
 * messages.get lastingly refused for that message: 400, a 403 that is not a rate limit): fetched and
 * converted again here. It fails for good when it still cannot be read, and stays in the queue's
 * failed set for 30 days (the dead letter, with the Gmail id) until replayed (`npm run replay --
 * --queue gmail <job-id>`, or Bull Board's retry) once the cause is fixed.
 */
export const importMessageJobSchema = z.object({
  email_address: z.string().min(3),
  /** The Gmail message id (also the email id the pipeline dedups on). */
  message_id: z.string().min(1).max(256),
  /** Why the sync could not read it the first time. */
  error: z.string().max(2_000).optional(),
});
export type ImportMessageJob = z.infer<typeof importMessageJobSchema>;
