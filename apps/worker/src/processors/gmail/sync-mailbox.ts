import { randomBytes } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { SyncMailboxJob } from '@render-signal/contracts';
import {
  describeUnreadable,
  GmailApiError,
  gmailClientForMailbox,
  GmailRateLimitError,
  historyCandidates,
  importJobId,
  isIncomingMessage,
  labelFilterProblem,
  messageFetchFailure,
  messageToIngress,
  resyncQuery,
  resyncWindow,
  TokenRevokedError,
  type ResyncGap,
  type AccessTokenSource,
  type GmailClient,
  type HistoryPage,
  type Mailbox,
  type MailboxStore,
} from '@render-signal/gmail';
import { ingestEmail, type IngestDeps } from '@render-signal/ingest';
import type { Logger, WorkerMetrics } from '@render-signal/observability';
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
  /** `rs_gmail_messages_gone_total`: messages deleted before they could be read. */
  metrics: Pick<WorkerMetrics, 'gmailMessagesGone'>;
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
/** Past the resync bound, ids are still listed (not fetched) to say how many were left, up to this many pages. */
const COUNT_PAGES_MAX = 20;
/** A resync lists at most this many pages in all (100,000 ids); what lies further is recorded as not read. */
const LIST_PAGES_MAX = 200;

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
  /** The oldest receive time among the messages fetched (a resync's gap ends there). */
  oldestFetched: number | undefined;
}

/**
 * gmail.sync — one mailbox from its stored history id: history.list (messageAdded and labelAdded,
 * paginated) → messages.get(raw) → ingress contract → ingestEmail, the HTTP ingress's path. The
 * history id moves forward only after every message of a page is taken in, so a crash re-reads that
 * page; the mailbox's seen set (Gmail ids already taken in, kept for the dedup window) and then the
 * Gmail-message-id dedup drop what was already taken. A 404 (start id too old) falls back to a full
 * resync of the mail received since the mailbox was connected (see `resync`: what it cannot read is
 * recorded as a gap until acknowledged). A message that cannot be read, or that Gmail lastingly
 * refuses to serve, becomes an `import-message` job (the dead letter when it stays so) and the sync
 * goes on; a message gone is logged and counted. A refused grant marks the mailbox needs_reauth only
 * if that grant is still the stored one. A Retry-After longer than a call may wait delays the job
 * until then (no attempt spent).
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
    oldestFetched: undefined,
  };
  try {
    const outcome = await syncOrResync(run);
    if (outcome.outcome === 'synced' || outcome.outcome === 'resynced') {
      if (mailbox.syncError) await ctx.mailboxes.setSyncError(mailbox.address, undefined);
    }
    return outcome;
  } catch (error) {
    if (error instanceof TokenRevokedError) {
      // Retrying cannot help: someone must run gmail:connect again. Health shows it, syncs skip it. Only
      // the grant that failed is marked: a reconnect made meanwhile stays active.
      const grant = error.grant ?? mailbox.grant;
      const marked = await ctx.mailboxes.markNeedsReauth(mailbox.address, error.code, grant);
      logger.error('gmail.token_revoked', { code: error.code, reason: error.reason, grant, marked });
      // Reconnected meanwhile: the new grant is stored; a retry (the job's backoff) syncs with it.
      if (!marked) throw new Error(`grant ${grant} of ${mailbox.address} was refused after a reconnect: retried with the new one`);
      return { outcome: 'skipped', mailbox: mailbox.address, reason: 'needs_reauth' };
    }
    if (error instanceof GmailRateLimitError && error.retryAt !== undefined && token) {
      // Google asked for longer than a call may wait: come back then, without spending an attempt, and
      // without the mailbox counting as stale before that time.
      await ctx.mailboxes.setRateLimitedUntil(mailbox.address, error.retryAt);
      logger.warn('gmail.rate_limited', { retry_at: new Date(error.retryAt).toISOString(), status: error.status, reason: error.reason });
      await job.moveToDelayed(error.retryAt, token);
      throw new DelayedError();
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
    const listedAt = Date.now();
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
      // The last page read up to the mailbox's current id: every message received before it was listed.
      await ctx.mailboxes.advanceHistoryId(run.address, reached, Date.now(), pageToken ? {} : { readThroughAt: listedAt });
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
 * promise) and within the dedup window (so every one already sent is still known by the seen set).
 * Messages already taken in cost nothing; GMAIL_RESYNC_MAX_MESSAGES bounds the ones not taken in yet
 * (the newest are read). What is left unread is recorded on the mailbox as a resync gap (from when to
 * when, how many at least), logged and shown until an operator acknowledges it: the part of the gap
 * older than the dedup window, and the part beyond the bound. The profile's history id is read first:
 * whatever arrives during the resync is picked up by the next sync.
 */
async function resync(run: SyncRun): Promise<SyncOutcome> {
  const { ctx } = run;
  const now = Date.now();
  const profile = await run.client.getProfile();
  const labelIds = ctx.labelId ? { labelIds: [ctx.labelId] } : {};
  const window = resyncWindow({
    connectedAt: run.mailbox.connectedAt,
    readThroughAt: run.mailbox.readThroughAt,
    lastSyncAt: run.mailbox.lastSyncAt,
    now,
    dedupWindowMs: ctx.ingest.dedupWindowMs,
  });
  const gaps: ResyncGap[] = [];
  if (window.unread) {
    // Older than the dedup window: never read (their seen marks are gone), only counted, one page at most.
    const page = await run.client.listMessages({
      q: resyncQuery(window.unread.from, window.unread.to),
      maxResults: LIST_PAGE_MAX,
      ...labelIds,
    });
    const count = page.messages?.length ?? 0;
    if (count > 0) gaps.push({ first_at: now, last_at: now, ...window.unread, at_least: count, reasons: ['dedup_window'] });
  }

  // Only what is not taken in yet counts against the bound: a busy mailbox whose window is already
  // known is not cut, and a message labelled late (received after the connection) is still found.
  const toRead = new Set<string>();
  let beyond = 0;
  let pageToken: string | undefined;
  let pages = 0;
  let countingPages = 0;
  do {
    const page = await run.client.listMessages({
      q: resyncQuery(window.listFrom),
      maxResults: LIST_PAGE_MAX,
      ...labelIds,
      ...(pageToken ? { pageToken } : {}),
    });
    const ids = (page.messages ?? []).map((m) => m.id);
    const seen = await ctx.mailboxes.seenMessages(run.address, ids);
    for (const id of ids) {
      if (seen.has(id) || toRead.has(id)) continue;
      if (toRead.size < ctx.resyncMaxMessages) toRead.add(id);
      else beyond += 1;
    }
    pageToken = page.nextPageToken;
    pages += 1;
    if (beyond > 0) countingPages += 1;
    await run.extendLock();
  } while (pageToken && countingPages < COUNT_PAGES_MAX && pages < LIST_PAGES_MAX);
  // Stopped listing with pages left: at least one more message was not read.
  if (pageToken) beyond = Math.max(beyond, 1);
  // messages.list is newest first; ingest oldest first, as they arrived.
  const halt = await takeIn(run, [...toRead].reverse(), window.listFrom);
  if (halt) return halted(run, halt, { resync: true });
  if (beyond > 0) {
    const to = run.oldestFetched ?? now;
    gaps.push({ first_at: now, last_at: now, from: window.listFrom, to, at_least: beyond, reasons: ['max_messages'] });
  }
  for (const gap of gaps) {
    await ctx.mailboxes.recordResyncGap(run.address, gap);
    run.logger.error('gmail.resync_truncated', {
      reason: gap.reasons[0],
      not_read_from: new Date(gap.from).toISOString(),
      not_read_to: new Date(gap.to).toISOString(),
      at_least: gap.at_least,
      max_messages: ctx.resyncMaxMessages,
      hint:
        gap.reasons[0] === 'dedup_window'
          ? 'mail older than DEDUP_WINDOW_DAYS was not read: check Gmail by hand for that period'
          : 'older messages of the gap were not read: raise GMAIL_RESYNC_MAX_MESSAGES or check Gmail by hand',
    });
  }
  await ctx.mailboxes.advanceHistoryId(run.address, profile.historyId, Date.now(), { readThroughAt: now });
  const { ingested, failed } = run.counts;
  const truncated = gaps.length > 0;
  run.logger.info('gmail.resynced', { read: toRead.size, ingested, failed, truncated, history_id: profile.historyId });
  return { outcome: 'resynced', mailbox: run.address, ingested, failed, history_id: profile.historyId, truncated };
}

async function ingestMessage(run: SyncRun, id: string, notBefore?: number): Promise<MessageOutcome> {
  const { ctx, logger } = run;
  let raw;
  try {
    raw = await run.client.getRawMessage(id);
  } catch (error) {
    // A lasting error about this one message (400, a 403 that is not a rate limit): its own job, the
    // dead letter if it lasts, and the sync goes on. Anything about the mailbox stops the sync (retried).
    if (messageFetchFailure(error) === 'mailbox') throw error;
    const reason = `could not be fetched: ${(error as Error).message}`;
    logger.error('gmail.message_fetch_failed', { email_id: id, error: reason });
    await handOver(run, id, reason);
    return 'failed';
  }
  if (!raw) {
    // Deleted since it was added: normal within seconds of arrival; a burst of them is a signal.
    ctx.metrics.gmailMessagesGone.inc({ stage: 'sync' });
    logger.warn('gmail.message_gone', { email_id: id });
    return 'ignored';
  }
  if (raw.internalDate) run.oldestFetched = Math.min(run.oldestFetched ?? Infinity, Number(raw.internalDate));
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
    await handOver(run, id, reason);
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

/** A message the sync could not take in becomes an import-message job (retried, then the dead letter). */
async function handOver(run: SyncRun, id: string, reason: string): Promise<void> {
  await run.ctx.gmailProducer.add(
    'import-message',
    { email_address: run.address, message_id: id, error: reason.slice(0, 2_000) },
    { jobId: importJobId(run.address, id) },
  );
}
