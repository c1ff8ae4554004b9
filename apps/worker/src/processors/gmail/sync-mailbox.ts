import { randomBytes } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { SyncMailboxJob } from '@render-signal/contracts';
import {
  describeUnreadable,
  GmailApiError,
  gmailClientForMailbox,
  historyCandidates,
  importJobId,
  isIncomingMessage,
  labelFilterProblem,
  messageToIngress,
  resyncQuery,
  TokenRevokedError,
  type AccessTokenSource,
  type GmailClient,
  type HistoryPage,
  type Mailbox,
  type MailboxStore,
} from '@render-signal/gmail';
import { ingestEmail, type IngestDeps } from '@render-signal/ingest';
import type { Logger } from '@render-signal/observability';
import { redisScript, type gmailQueue, type Producer } from '@render-signal/queue';

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
  /** Bound of a full resync (GMAIL_RESYNC_MAX_MESSAGES). */
  resyncMaxMessages: number;
  /** GMAIL_SEND_OWN_MESSAGES: keep mail to yourself (SENT + INBOX). */
  sendOwnMessages: boolean;
  /** Where a message the sync cannot read goes (an `import-message` job: retried, then the dead letter). */
  gmailProducer: Pick<Producer<typeof gmailQueue>, 'add'>;
  /** The Apps Script's error label (GMAIL_ERROR_LABEL), put on unreadable messages when the grant allows. */
  errorLabel: string | undefined;
}

export type SyncOutcome =
  | { outcome: 'synced' | 'resynced'; mailbox: string; ingested: number; failed: number; history_id: string; truncated?: boolean }
  | { outcome: 'halted'; mailbox: string; ingested: number; reason: 'ingress_disabled' | 'sending_disabled' }
  | { outcome: 'skipped'; mailbox: string; reason: string };

/** Longer than a normal sync; extended after every message, so a dead worker frees the mailbox soon. */
const LOCK_TTL_MS = 60_000;
const LOCK_BUSY_RETRY_MS = 1_000;
const RELEASE_LOCK = redisScript(`
-- Releases the mailbox's sync lock if this run still holds it.
-- KEYS[1] the lock key
-- ARGV[1] this run's lock token
-- Returns 1 when released, 0 when the lock is gone or another run's.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
const EXTEND_LOCK = redisScript(`
-- Extends the mailbox's sync lock if this run still holds it.
-- KEYS[1] the lock key
-- ARGV[1] this run's lock token, ARGV[2] the new TTL (ms)
-- Returns 1 when extended, 0 when the lock is gone or another run's.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);
/** messages.list's largest page. */
const LIST_PAGE_MAX = 500;

/**
 * What happened to one message: `taken` (queued, or known to the dedup, or refused by the sender
 * allowlist: final either way), `failed` (unreadable: handed to an import-message job), `ignored`
 * (gone, a draft, spam, sent mail: it may come back through a later label change), or a halt.
 */
type MessageOutcome = 'taken' | 'ingested' | 'failed' | 'ignored' | 'ingress_disabled' | 'sending_disabled';

interface SyncRun {
  address: string;
  mailbox: Mailbox;
  client: GmailClient;
  ctx: GmailSyncContext;
  logger: Logger;
  extendLock: () => Promise<unknown>;
  counts: { ingested: number; failed: number };
}

/**
 * gmail.sync — one mailbox from its stored history id: history.list (messageAdded and labelAdded,
 * paginated) → messages.get(raw) → ingress contract → ingestEmail, the HTTP ingress's path. The
 * history id moves forward only after every message of a page is taken in, so a crash re-reads that
 * page; the mailbox's seen set (Gmail ids already taken in, kept for the dedup window) and then the
 * Gmail-message-id dedup drop what was already taken. A 404 (start id too old) falls back to a full
 * resync of the mail received since the mailbox was connected, bounded by GMAIL_RESYNC_MAX_MESSAGES.
 * A message that cannot be read becomes an `import-message` job (the dead letter when it stays
 * unreadable) and the sync goes on.
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
  const run: SyncRun = {
    address: mailbox.address,
    mailbox,
    client: gmailClientForMailbox(mailbox.address, ctx.tokens, { baseUrl: ctx.gmailBaseUrl }),
    ctx,
    logger,
    extendLock: () => EXTEND_LOCK.run(ctx.redis, [lockKey], [lockToken, LOCK_TTL_MS]),
    counts: { ingested: 0, failed: 0 },
  };
  try {
    const outcome = await syncOrResync(run);
    if (outcome.outcome === 'synced' || outcome.outcome === 'resynced') {
      if (mailbox.syncError) await ctx.mailboxes.setSyncError(mailbox.address, undefined);
    }
    return outcome;
  } catch (error) {
    if (error instanceof TokenRevokedError) {
      // Retrying cannot help: someone must run gmail:connect again. Health shows it, syncs skip it.
      await ctx.mailboxes.markNeedsReauth(mailbox.address, error.code);
      logger.error('gmail.token_revoked', { code: error.code, reason: error.reason });
      return { outcome: 'skipped', mailbox: mailbox.address, reason: 'needs_reauth' };
    }
    if (error instanceof GmailApiError && (error.status === 400 || error.status === 404) && ctx.labelId) {
      // Gmail answers an unknown label id with 404 (history.list) or 400 (messages.list): without this
      // check a label name in GMAIL_LABEL_FILTER would look like an expired history id, resync after resync.
      const problem = await labelFilterProblem(run.client, ctx.labelId);
      if (problem) {
        await ctx.mailboxes.setSyncError(mailbox.address, problem);
        logger.error('gmail.label_filter_invalid', { label_filter: ctx.labelId, error: problem });
        return { outcome: 'skipped', mailbox: mailbox.address, reason: 'label_filter_invalid' };
      }
    }
    throw error;
  } finally {
    await RELEASE_LOCK.run(ctx.redis, [lockKey], [lockToken]).catch(() => {});
  }
}

async function syncOrResync(run: SyncRun): Promise<SyncOutcome> {
  if (!run.mailbox.historyId) return resync(run);
  try {
    return await syncHistory(run, run.mailbox.historyId);
  } catch (error) {
    if (!(error instanceof GmailApiError && error.status === 404)) throw error;
    if (run.ctx.labelId && (await labelFilterProblem(run.client, run.ctx.labelId))) throw error;
    run.logger.warn('gmail.history_expired', { history_id: run.mailbox.historyId });
    return resync(run);
  }
}

async function halted(
  run: SyncRun,
  reason: 'ingress_disabled' | 'sending_disabled',
  fields: Record<string, unknown>,
): Promise<SyncOutcome> {
  // Paused on purpose: nothing is lost (the history id did not move), and the mailbox is not stale.
  await run.ctx.mailboxes.touchSync(run.address);
  run.logger.info('gmail.sync_halted', { reason, ...fields });
  return { outcome: 'halted', mailbox: run.address, ingested: run.counts.ingested, reason };
}

/**
 * Takes in a list of message ids in order; answers the halt reason when the ingress or sending is
 * paused (the caller then stops without moving the history id).
 */
async function takeIn(run: SyncRun, ids: readonly string[], notBefore?: number): Promise<'ingress_disabled' | 'sending_disabled' | null> {
  const seen = await run.ctx.mailboxes.seenMessages(run.address, ids);
  const taken: string[] = [];
  try {
    for (const id of ids) {
      if (seen.has(id)) continue;
      const outcome = await ingestMessage(run, id, notBefore);
      await run.extendLock();
      if (outcome === 'ingress_disabled' || outcome === 'sending_disabled') return outcome;
      if (outcome === 'ingested') run.counts.ingested += 1;
      if (outcome === 'failed') run.counts.failed += 1;
      if (outcome !== 'ignored') taken.push(id);
    }
    return null;
  } finally {
    await run.ctx.mailboxes.rememberMessages(run.address, taken, run.ctx.ingest.dedupWindowMs);
  }
}

async function syncHistory(run: SyncRun, startHistoryId: string): Promise<SyncOutcome> {
  const { ctx } = run;
  let pageToken: string | undefined;
  let historyId = startHistoryId;
  do {
    const page: HistoryPage = await run.client.listHistory({
      startHistoryId,
      ...(ctx.labelId ? { labelId: ctx.labelId } : {}),
      ...(pageToken ? { pageToken } : {}),
    });
    const ids = historyCandidates(page, { labelId: ctx.labelId, sendOwnMessages: ctx.sendOwnMessages });
    const halt = await takeIn(run, ids);
    if (halt) return halted(run, halt, { history_id: historyId });
    pageToken = page.nextPageToken;
    // Mid-way: up to the page's last record; at the end: the mailbox's current id (covers non-message changes too).
    const reached = pageToken ? page.history?.at(-1)?.id : page.historyId;
    if (reached) {
      await ctx.mailboxes.advanceHistoryId(run.address, reached);
      historyId = reached;
    } else {
      await ctx.mailboxes.touchSync(run.address);
    }
    await run.extendLock();
  } while (pageToken);
  const { ingested, failed } = run.counts;
  if (ingested > 0 || failed > 0) run.logger.info('gmail.synced', { ingested, failed, history_id: historyId });
  return { outcome: 'synced', mailbox: run.address, ingested, failed, history_id: historyId };
}

/**
 * The stored history id is too old (Gmail keeps about a week, sometimes less) or the mailbox has
 * none: a full sync, as Google's sync guide says. messages.list (label filter, newest first) pages
 * through the mail received since the mailbox was first connected (never older, as the docs
 * promise) and within the dedup window (so every one already sent is still known), at most
 * GMAIL_RESYNC_MAX_MESSAGES; a resync cut short by that bound is logged and flagged in /health. The
 * profile's history id is read first: whatever arrives during the resync is picked up by the next sync.
 */
async function resync(run: SyncRun): Promise<SyncOutcome> {
  const { ctx } = run;
  const now = Date.now();
  const profile = await run.client.getProfile();
  const notBefore = Math.max(run.mailbox.connectedAt, now - ctx.ingest.dedupWindowMs);
  const ids: string[] = [];
  let pageToken: string | undefined;
  let truncated = false;
  do {
    const page = await run.client.listMessages({
      q: resyncQuery(notBefore),
      maxResults: Math.min(LIST_PAGE_MAX, ctx.resyncMaxMessages - ids.length),
      ...(ctx.labelId ? { labelIds: [ctx.labelId] } : {}),
      ...(pageToken ? { pageToken } : {}),
    });
    ids.push(...(page.messages ?? []).map((m) => m.id));
    pageToken = page.nextPageToken;
    await run.extendLock();
    if (pageToken && ids.length >= ctx.resyncMaxMessages) truncated = true;
  } while (pageToken && !truncated);
  if (truncated) {
    run.logger.error('gmail.resync_truncated', {
      listed: ids.length,
      max_messages: ctx.resyncMaxMessages,
      hint: 'older messages of the gap were not read: raise GMAIL_RESYNC_MAX_MESSAGES',
    });
  }
  // messages.list is newest first; ingest oldest first, as they arrived.
  const halt = await takeIn(run, [...new Set(ids)].reverse(), notBefore);
  if (halt) return halted(run, halt, { resync: true });
  await ctx.mailboxes.recordResync(run.address, truncated ? now : undefined);
  await ctx.mailboxes.advanceHistoryId(run.address, profile.historyId);
  const { ingested, failed } = run.counts;
  run.logger.info('gmail.resynced', { listed: ids.length, ingested, failed, truncated, history_id: profile.historyId });
  return { outcome: 'resynced', mailbox: run.address, ingested, failed, history_id: profile.historyId, truncated };
}

async function ingestMessage(run: SyncRun, id: string, notBefore?: number): Promise<MessageOutcome> {
  const { ctx, logger } = run;
  const raw = await run.client.getRawMessage(id);
  if (!raw) return 'ignored'; // deleted since it was added
  if (!isIncomingMessage(raw.labelIds, { sendOwnMessages: ctx.sendOwnMessages })) return 'ignored';
  if (notBefore !== undefined && raw.internalDate && Number(raw.internalDate) < notBefore) return 'ignored';
  let email;
  try {
    email = await messageToIngress(raw);
  } catch (error) {
    // One unreadable message must not block the mailbox: it becomes its own job, retried and then
    // dead-lettered with its Gmail id (Bull Board, replay CLI); the sync goes on with the next one.
    const reason = describeUnreadable(error);
    logger.error('gmail.message_unreadable', { email_id: id, error: reason });
    await ctx.gmailProducer.add(
      'import-message',
      { email_address: run.address, message_id: id, error: reason.slice(0, 2_000) },
      { jobId: importJobId(run.address, id) },
    );
    return 'failed';
  }
  const result = await ingestEmail(email, ctx.ingest);
  if (result.status === 'ingress_disabled' || result.status === 'sending_disabled') return result.status;
  logger.info(result.status === 'queued' ? 'gmail.message_ingested' : 'gmail.message_duplicate', {
    email_id: result.email_id,
    status: result.status,
  });
  return result.status === 'queued' ? 'ingested' : 'taken';
}
