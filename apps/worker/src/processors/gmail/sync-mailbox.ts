import { randomBytes } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { SyncMailboxJob } from '@render-signal/contracts';
import {
  GmailApiError,
  gmailClientForMailbox,
  isIncomingMessage,
  messageToIngress,
  TokenRevokedError,
  type AccessTokenSource,
  type GmailClient,
  type HistoryPage,
  type MailboxStore,
} from '@render-signal/gmail';
import { ingestEmail, type IngestDeps } from '@render-signal/ingest';
import { describeError, type Logger } from '@render-signal/observability';

export interface GmailSyncContext {
  logger: Logger;
  redis: Redis | Cluster;
  prefix: string;
  mailboxes: MailboxStore;
  tokens: AccessTokenSource;
  gmailBaseUrl: string;
  /** history.list / resync label filter (GMAIL_LABEL_FILTER). */
  labelId: string | undefined;
  /** The same dependencies as the HTTP ingress: policies, then dedup + enqueue. */
  ingest: IngestDeps;
  resyncMaxMessages: number;
}

export type SyncOutcome =
  | { outcome: 'synced' | 'resynced'; mailbox: string; ingested: number; history_id: string }
  | { outcome: 'halted'; mailbox: string; ingested: number; reason: 'ingress_disabled' | 'sending_disabled' }
  | { outcome: 'skipped'; mailbox: string; reason: string };

/** Longer than a normal sync; extended after every page, so a dead worker frees the mailbox soon. */
const LOCK_TTL_MS = 60_000;
const LOCK_BUSY_RETRY_MS = 1_000;
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const EXTEND_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

type IngestOutcome = 'ingested' | 'skipped' | 'ingress_disabled' | 'sending_disabled';

/**
 * gmail.sync — one mailbox from its stored history id: history.list (messageAdded, paginated) →
 * messages.get(raw) → ingress contract → ingestEmail, the HTTP ingress's path. The history id moves
 * forward only after every message of a page is enqueued, so a crash re-reads that page and the
 * Gmail-message-id dedup drops what was already taken. A 404 (start id too old) falls back to a
 * bounded resync of the newest messages.
 *
 * One sync per mailbox at a time: the producers' per-mailbox deduplication id (keepLastIfActive)
 * keeps BullMQ from running two, and a Redis lock covers what bypasses it (a stalled job handed to
 * another worker while the first still runs, a job re-added by the replay CLI). A sync that finds the
 * lock taken is delayed, not failed.
 */
export async function syncMailbox(job: Job<SyncMailboxJob>, token: string | undefined, ctx: GmailSyncContext): Promise<SyncOutcome> {
  const address = job.data.email_address;
  const logger = ctx.logger.child({ mailbox: address });
  const mailbox = await ctx.mailboxes.get(address);
  if (!mailbox || mailbox.state !== 'active')
    return { outcome: 'skipped', mailbox: address, reason: mailbox ? mailbox.state : 'unknown_mailbox' };

  const lockKey = `${ctx.prefix}:gmail:lock:${mailbox.address}`;
  const lockToken = randomBytes(12).toString('hex');
  if ((await ctx.redis.set(lockKey, lockToken, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') {
    logger.debug('gmail.sync_busy', {});
    await job.moveToDelayed(Date.now() + LOCK_BUSY_RETRY_MS, token);
    throw new DelayedError();
  }
  const extendLock = () => ctx.redis.eval(EXTEND_LOCK, 1, lockKey, lockToken, String(LOCK_TTL_MS));
  try {
    const client = gmailClientForMailbox(mailbox.address, ctx.tokens, { baseUrl: ctx.gmailBaseUrl });
    const ingestOne = (id: string) => ingestMessage(client, id, ctx, logger);
    if (!mailbox.historyId) return await resync(mailbox.address, client, ingestOne, extendLock, ctx, logger);
    try {
      return await syncHistory(mailbox.address, mailbox.historyId, client, ingestOne, extendLock, ctx, logger);
    } catch (error) {
      if (!(error instanceof GmailApiError && error.status === 404)) throw error;
      logger.warn('gmail.history_expired', { history_id: mailbox.historyId });
      return await resync(mailbox.address, client, ingestOne, extendLock, ctx, logger);
    }
  } catch (error) {
    if (!(error instanceof TokenRevokedError)) throw error;
    // Retrying cannot help: someone must run gmail:connect again. Health shows it, syncs skip it.
    await ctx.mailboxes.markNeedsReauth(mailbox.address, 'token_revoked');
    logger.error('gmail.token_revoked', { reason: error.reason });
    return { outcome: 'skipped', mailbox: mailbox.address, reason: 'needs_reauth' };
  } finally {
    await ctx.redis.eval(RELEASE_LOCK, 1, lockKey, lockToken).catch(() => {});
  }
}

async function syncHistory(
  address: string,
  startHistoryId: string,
  client: GmailClient,
  ingestOne: (id: string) => Promise<IngestOutcome>,
  extendLock: () => Promise<unknown>,
  ctx: GmailSyncContext,
  logger: Logger,
): Promise<SyncOutcome> {
  let pageToken: string | undefined;
  let ingested = 0;
  let historyId = startHistoryId;
  do {
    const page: HistoryPage = await client.listHistory({
      startHistoryId,
      ...(ctx.labelId ? { labelId: ctx.labelId } : {}),
      ...(pageToken ? { pageToken } : {}),
    });
    for (const ref of addedMessages(page)) {
      if (!isIncomingMessage(ref.labelIds)) continue;
      const outcome = await ingestOne(ref.id);
      if (outcome === 'ingress_disabled' || outcome === 'sending_disabled') {
        logger.info('gmail.sync_halted', { reason: outcome, history_id: historyId });
        return { outcome: 'halted', mailbox: address, ingested, reason: outcome };
      }
      if (outcome === 'ingested') ingested += 1;
    }
    pageToken = page.nextPageToken;
    // Mid-way: up to the page's last record; at the end: the mailbox's current id (covers non-message changes too).
    const reached = pageToken ? page.history?.at(-1)?.id : page.historyId;
    if (reached) {
      await ctx.mailboxes.advanceHistoryId(address, reached);
      historyId = reached;
    }
    await extendLock();
  } while (pageToken);
  if (ingested > 0) logger.info('gmail.synced', { ingested, history_id: historyId });
  return { outcome: 'synced', mailbox: address, ingested, history_id: historyId };
}

/**
 * The stored history id is too old (Gmail keeps about a week, sometimes less): read the newest
 * messages instead, at most GMAIL_RESYNC_MAX_MESSAGES and none older than the dedup window, so every
 * one already sent is still known to the dedup and is not sent twice. The profile's history id is
 * read first: whatever arrives during the resync is picked up by the next sync.
 */
async function resync(
  address: string,
  client: GmailClient,
  ingestOne: (id: string) => Promise<IngestOutcome>,
  extendLock: () => Promise<unknown>,
  ctx: GmailSyncContext,
  logger: Logger,
): Promise<SyncOutcome> {
  const profile = await client.getProfile();
  const windowDays = Math.max(1, Math.floor(ctx.ingest.dedupWindowMs / 86_400_000));
  const list = await client.listMessages({
    q: `newer_than:${windowDays}d`,
    maxResults: ctx.resyncMaxMessages,
    ...(ctx.labelId ? { labelIds: [ctx.labelId] } : {}),
  });
  // messages.list is newest first; ingest oldest first, as they arrived.
  const ids = (list.messages ?? []).map((m) => m.id).reverse();
  let ingested = 0;
  for (const id of ids) {
    const outcome = await ingestOne(id);
    if (outcome === 'ingress_disabled' || outcome === 'sending_disabled') {
      logger.info('gmail.sync_halted', { reason: outcome, resync: true });
      return { outcome: 'halted', mailbox: address, ingested, reason: outcome };
    }
    if (outcome === 'ingested') ingested += 1;
  }
  await extendLock();
  await ctx.mailboxes.advanceHistoryId(address, profile.historyId);
  logger.info('gmail.resynced', { listed: ids.length, ingested, history_id: profile.historyId });
  return { outcome: 'resynced', mailbox: address, ingested, history_id: profile.historyId };
}

/** messageAdded refs of a page, each message once, in history order. */
function addedMessages(page: HistoryPage) {
  const seen = new Set<string>();
  return (page.history ?? [])
    .flatMap((record) => (record.messagesAdded ?? []).map((added) => added.message))
    .filter((m) => !seen.has(m.id) && seen.add(m.id));
}

async function ingestMessage(client: GmailClient, id: string, ctx: GmailSyncContext, logger: Logger): Promise<IngestOutcome> {
  const raw = await client.getRawMessage(id);
  if (!raw) return 'skipped'; // deleted since it was added
  if (!isIncomingMessage(raw.labelIds)) return 'skipped';
  let email;
  try {
    email = await messageToIngress(raw);
  } catch (error) {
    // One unreadable message must not block the mailbox: logged with its id for the operator.
    logger.error('gmail.message_unreadable', { email_id: id, ...describeError(error) });
    return 'skipped';
  }
  const result = await ingestEmail(email, ctx.ingest);
  if (result.status === 'ingress_disabled' || result.status === 'sending_disabled') return result.status;
  logger.info(result.status === 'queued' ? 'gmail.message_ingested' : 'gmail.message_duplicate', {
    email_id: result.email_id,
    status: result.status,
  });
  return result.status === 'queued' ? 'ingested' : 'skipped';
}
