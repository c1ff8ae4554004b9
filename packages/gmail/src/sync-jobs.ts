import { normalizeAddress } from './mailbox-store';

/**
 * How a sync job is added, by the push endpoint and the backup poll alike: one deduplication id per
 * mailbox with `keepLastIfActive`, so a burst of notifications is one job, and a notification that
 * arrives during a sync leaves exactly one follow-up (BullMQ keeps at most one active and one waiting
 * per id, and never runs two with the same id at once).
 */
export function syncJobOptions(address: string): { deduplication: { id: string; keepLastIfActive: true } } {
  return { deduplication: { id: `gmail-sync.${normalizeAddress(address)}`, keepLastIfActive: true } };
}

/** Fixed job scheduler ids: upserted by every worker at startup, one schedule in Redis. */
export const WATCH_RENEWAL_SCHEDULER_ID = 'gmail-watch-renewal';
export const BACKUP_POLL_SCHEDULER_ID = 'gmail-backup-poll';
