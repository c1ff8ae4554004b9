import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import type { CredentialCipher } from './credential-cipher';
import { redisScript } from '@render-signal/queue';

/**
 * The connected Gmail mailboxes, in Redis: one hash per mailbox plus a set of addresses.
 * `<prefix>:gmail:mailboxes` (set) and `<prefix>:gmail:mailbox:<address>` (hash). The refresh token is
 * stored encrypted (see credential-cipher); nothing else in the hash is secret. `<prefix>:gmail:seen:<address>`
 * (sorted set, score = when) holds the Gmail message ids the sync already took in.
 */
export type MailboxState = 'active' | 'needs_reauth';
/** `oauth`: a user's refresh token (gmail:connect). `service_account`: Workspace domain-wide delegation. */
export type MailboxAuth = 'oauth' | 'service_account';

export interface Mailbox {
  address: string;
  state: MailboxState;
  auth: MailboxAuth;
  /** Where the next sync starts (Gmail history ids are decimal strings of an unsigned 64-bit number). */
  historyId: string | undefined;
  /** Epoch ms when the current users.watch expires (Google: at most 7 days). */
  watchExpiresAt: number | undefined;
  /** First connection (kept across reconnects): mail received before it is never imported by a resync. */
  connectedAt: number;
  /** The latest gmail:connect (first or re-connection). */
  lastConnectAt: number;
  /** Last sync that reached Gmail and finished (or stopped on purpose: ingress or sending paused). */
  lastSyncAt: number | undefined;
  /** Why the mailbox needs attention (never a token). */
  lastError: string | undefined;
  /** The last users.watch renewal failed (cleared by the next success): when, and Gmail's answer. */
  watchFailedAt: number | undefined;
  watchError: string | undefined;
  /**
   * Mail a full resync could not read (older than the dedup window, or beyond GMAIL_RESYNC_MAX_MESSAGES),
   * kept across reconnects until an operator acknowledges it.
   */
  resyncGap: ResyncGap | undefined;
  /** When the last unacknowledged resync gap was recorded (`resyncGap.last_at`). */
  resyncTruncatedAt: number | undefined;
  /** Every message received before this time was read (a history sync that reached the end, or a full resync). */
  readThroughAt: number | undefined;
  /** Gmail asked to wait (Retry-After) until this time: the sync job is delayed, the mailbox is not stale before. */
  rateLimitedUntil: number | undefined;
  /** Which consent (grant) the stored credential comes from: +1 on every gmail:connect. */
  grant: number;
  /** A sync fails for a reason retrying cannot fix (e.g. a label name in GMAIL_LABEL_FILTER); cleared by a good sync. */
  syncError: string | undefined;
  /** Consent included gmail.modify: unreadable messages get the error label in Gmail. */
  labelErrors: boolean;
}

/** The resync gap as stored (JSON in the mailbox hash): what was not read, from when to when, how many at least. */
export const resyncGapSchema = z.object({
  /** When the first and the latest unacknowledged cut happened. */
  first_at: z.number().int().nonnegative(),
  last_at: z.number().int().nonnegative(),
  /** Receive-time range (epoch ms) of the mail that was not read. */
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
  /** At least this many messages were not read (counted by listing, never fetched). */
  at_least: z.number().int().nonnegative(),
  /** `dedup_window`: older than DEDUP_WINDOW_DAYS; `max_messages`: beyond GMAIL_RESYNC_MAX_MESSAGES. */
  reasons: z.array(z.enum(['dedup_window', 'max_messages'])).min(1),
});
export type ResyncGap = z.infer<typeof resyncGapSchema>;

/** A stored gap read back: undefined when absent or unreadable (never throws on a corrupt value). */
function parseResyncGap(raw: string | null | undefined): ResyncGap | undefined {
  if (!raw) return undefined;
  try {
    const parsed = resyncGapSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export interface ConnectMailboxInput {
  address: string;
  auth: MailboxAuth;
  /** Required for `oauth`. */
  refreshToken?: string;
  historyId: string;
  watchExpiresAt: number;
  labelErrors?: boolean;
  now?: number;
}

export interface MailboxStore {
  /**
   * Stores a mailbox. A reconnect (the mailbox is already known) keeps its history id and first
   * connection time, so the next sync reads what arrived while it was disconnected; `resumed` says so.
   */
  connect(input: ConnectMailboxInput): Promise<Mailbox & { resumed: boolean }>;
  get(address: string): Promise<Mailbox | null>;
  list(): Promise<Mailbox[]>;
  /** The decrypted refresh token; throws when the store has no cipher or the mailbox has none. */
  refreshToken(address: string): Promise<string>;
  /**
   * Moves the history id forward, never back (an out-of-order writer cannot rewind it). Answers
   * whether it moved. Checked and set in one Lua script. Also records a successful sync.
   */
  advanceHistoryId(address: string, historyId: string, now?: number, options?: { readThroughAt?: number }): Promise<boolean>;
  /** A sync finished without moving the history id (ingress or sending paused): the mailbox is not stale. */
  touchSync(address: string, now?: number): Promise<void>;
  /** A successful users.watch: new expiry, any renewal failure cleared. */
  recordWatch(address: string, expiresAt: number): Promise<void>;
  recordWatchFailure(address: string, error: string, now?: number): Promise<void>;
  /**
   * A full resync left mail unread: merged into the unacknowledged gap (widest range, counts added).
   * Only an operator's acknowledgement clears it; a later complete resync or a reconnect does not.
   */
  recordResyncGap(address: string, gap: ResyncGap): Promise<void>;
  /**
   * The operator checked the gap (dashboard, API, CLI): cleared. With `lastAt` (the `last_at` of the gap
   * the operator saw), only that gap: a cut recorded since then is `changed` and stays.
   */
  acknowledgeResyncGap(
    address: string,
    options?: { lastAt?: number },
  ): Promise<{ status: 'acknowledged' | 'changed'; gap: ResyncGap } | { status: 'none' }>;
  /** Gmail asked to wait until `until` (epoch ms). */
  setRateLimitedUntil(address: string, until: number): Promise<void>;
  setSyncError(address: string, error: string | undefined): Promise<void>;
  /**
   * The credential of `grant` was refused for good. Applies only while that grant is still the stored
   * one (checked and set in one script): a sync still running on the old grant cannot flip a freshly
   * reconnected mailbox back. Answers whether it applied.
   */
  markNeedsReauth(address: string, reason: string, grant: number | undefined): Promise<boolean>;
  /** The decrypted refresh token with the grant it belongs to, read together. */
  credential(address: string): Promise<{ refreshToken: string; grant: number }>;
  /**
   * Gmail message ids already taken in by this mailbox's sync (kept for the dedup window): the
   * push path never sends one twice, even with `disable_email_id_dedup` on.
   */
  seenMessages(address: string, ids: readonly string[]): Promise<Set<string>>;
  rememberMessages(address: string, ids: readonly string[], keepMs: number, now?: number): Promise<void>;
  remove(address: string): Promise<boolean>;
}

export interface MailboxStoreOptions {
  redis: Redis | Cluster;
  prefix: string;
  /** Needed to store or read credentials; health and the push endpoint do without. */
  cipher?: CredentialCipher;
}

export const normalizeAddress = (address: string) => address.trim().toLowerCase();

/** Decimal strings without leading zeros: longer is larger, same length compares as text. Lua numbers are doubles, too small for uint64. */
const ADVANCE_HISTORY_SCRIPT = redisScript(`
-- Moves a mailbox's history id forward only (a late, older id never takes it back); stamps last_sync_at anyway.
-- KEYS[1] the mailbox hash
-- ARGV[1] the proposed history id (decimal string), ARGV[2] now (epoch ms), ARGV[3] '' or the time (epoch ms)
--   before which every message was read (read_through_at)
-- Returns 1 when the id moved forward, 0 otherwise (older or equal id, or no such mailbox).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'read_through_at', ARGV[3]) end
local current = redis.call('HGET', KEYS[1], 'history_id')
local proposed = ARGV[1]
if current and (#current > #proposed or (#current == #proposed and current >= proposed)) then
  redis.call('HSET', KEYS[1], 'last_sync_at', ARGV[2])
  return 0
end
redis.call('HSET', KEYS[1], 'history_id', proposed, 'last_sync_at', ARGV[2])
return 1
`);

const SEEN_CHUNK = 1_000;

const HISTORY_ID = /^[1-9][0-9]{0,19}$/;

export function isHistoryId(value: string): boolean {
  return HISTORY_ID.test(value);
}

/** True when `a` is a later history id than `b` (both decimal strings). */
export function isLaterHistoryId(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

/** The stored hash, validated where it is read back. Numbers are epoch ms as decimal strings. */
const epochMs = z.string().regex(/^\d+$/).transform(Number).optional().catch(undefined);
const text = z
  .string()
  .optional()
  .transform((v) => v || undefined);
const mailboxHashSchema = z.object({
  address: z.string().min(3),
  state: z.enum(['active', 'needs_reauth']).catch('active'),
  auth: z.enum(['oauth', 'service_account']).catch('oauth'),
  history_id: z.string().refine(isHistoryId).optional().catch(undefined),
  watch_expires_at: epochMs,
  connected_at: epochMs,
  last_connect_at: epochMs,
  last_sync_at: epochMs,
  last_error: text,
  watch_failed_at: epochMs,
  watch_error: text,
  resync_gap: z.string().optional().transform(parseResyncGap),
  read_through_at: epochMs,
  rate_limited_until: epochMs,
  grant: epochMs,
  sync_error: text,
  label_errors: z.string().optional(),
});

function toMailbox(hash: Record<string, string>): Mailbox | null {
  const parsed = mailboxHashSchema.safeParse(hash);
  if (!parsed.success) return null;
  const h = parsed.data;
  return {
    address: h.address,
    state: h.state,
    auth: h.auth,
    historyId: h.history_id,
    watchExpiresAt: h.watch_expires_at,
    connectedAt: h.connected_at ?? 0,
    lastConnectAt: h.last_connect_at ?? h.connected_at ?? 0,
    lastSyncAt: h.last_sync_at,
    lastError: h.last_error,
    watchFailedAt: h.watch_failed_at,
    watchError: h.watch_error,
    resyncGap: h.resync_gap,
    resyncTruncatedAt: h.resync_gap?.last_at,
    readThroughAt: h.read_through_at,
    rateLimitedUntil: h.rate_limited_until,
    grant: h.grant ?? 0,
    syncError: h.sync_error,
    labelErrors: h.label_errors === '1',
  };
}

/**
 * Reconnect: keep where the sync stands, when the mailbox was first connected, what was read and any
 * unacknowledged resync gap; everything else (state, credential, watch, errors) starts afresh, under a
 * new grant number. A first connect starts from the new watch's id, grant 1.
 */
const CONNECT_SCRIPT = redisScript(`
-- Connects (or reconnects) a mailbox, keeping the sync position, first connection, read-through time and
-- any unacknowledged resync gap; the grant number goes up by one.
-- KEYS[1] the mailbox hash, KEYS[2] the set of mailbox addresses
-- ARGV[1] address, ARGV[2] the new watch's history id, ARGV[3] now (epoch ms), ARGV[4] auth, ARGV[5] encrypted
--   credential, ARGV[6] watch expiry (epoch ms), ARGV[7] label errors ('1' or '0')
-- Returns 1 when a previous sync position was kept (resumed), 0 for a first connect.
local previous = redis.call('HMGET', KEYS[1], 'history_id', 'connected_at', 'grant', 'resync_gap', 'read_through_at')
redis.call('DEL', KEYS[1])
local history = previous[1] or ARGV[2]
local connected = previous[2] or ARGV[3]
local grant = (tonumber(previous[3]) or 0) + 1
redis.call('HSET', KEYS[1], 'address', ARGV[1], 'state', 'active', 'auth', ARGV[4], 'credential', ARGV[5],
  'history_id', history, 'watch_expires_at', ARGV[6], 'connected_at', connected, 'label_errors', ARGV[7], 'last_connect_at', ARGV[3],
  'grant', tostring(grant))
if previous[4] then redis.call('HSET', KEYS[1], 'resync_gap', previous[4]) end
if previous[5] then redis.call('HSET', KEYS[1], 'read_through_at', previous[5]) end
redis.call('SADD', KEYS[2], ARGV[1])
if previous[1] then return 1 end
return 0
`);

const MARK_NEEDS_REAUTH_SCRIPT = redisScript(`
-- Marks a mailbox needs_reauth, only while the grant that failed is still the stored one.
-- KEYS[1] the mailbox hash
-- ARGV[1] the grant that failed ('' = whichever), ARGV[2] the reason (Google's error code)
-- Returns 1 when marked, 0 when the mailbox is gone or holds another grant (reconnected meanwhile).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' and (redis.call('HGET', KEYS[1], 'grant') or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'needs_reauth', 'last_error', ARGV[2])
return 1
`);

const SET_GAP_SCRIPT = redisScript(`
-- Compare-and-set of a mailbox's resync gap (JSON).
-- KEYS[1] the mailbox hash
-- ARGV[1] the value read before ('' = none), ARGV[2] the new value ('' = delete it)
-- Returns 1 when set, 0 when the mailbox is gone, -1 when the value changed meanwhile.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if (redis.call('HGET', KEYS[1], 'resync_gap') or '') ~= ARGV[1] then return -1 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'resync_gap') else redis.call('HSET', KEYS[1], 'resync_gap', ARGV[2]) end
return 1
`);

/**
 * Two gaps as one: the widest range, the counts added, both reasons. Pure (table-tested).
 */
export function mergeResyncGaps(previous: ResyncGap | undefined, next: ResyncGap): ResyncGap {
  if (!previous) return next;
  return {
    first_at: Math.min(previous.first_at, next.first_at),
    last_at: Math.max(previous.last_at, next.last_at),
    from: Math.min(previous.from, next.from),
    to: Math.max(previous.to, next.to),
    at_least: previous.at_least + next.at_least,
    reasons: [...new Set([...previous.reasons, ...next.reasons])].sort(),
  };
}

export function createMailboxStore(options: MailboxStoreOptions): MailboxStore {
  const { redis, prefix, cipher } = options;
  const setKey = `${prefix}:gmail:mailboxes`;
  const keyOf = (address: string) => `${prefix}:gmail:mailbox:${normalizeAddress(address)}`;
  const seenKeyOf = (address: string) => `${prefix}:gmail:seen:${normalizeAddress(address)}`;
  const requireCipher = () => {
    if (!cipher) throw new Error('the mailbox store has no credential cipher (SECRET_KEY not set?)');
    return cipher;
  };
  const setIfExists = async (address: string, fields: Record<string, string>, clear: string[] = []) => {
    const key = keyOf(address);
    if (!(await redis.exists(key))) return;
    const multi = redis.multi();
    if (Object.keys(fields).length > 0) multi.hset(key, fields);
    if (clear.length > 0) multi.hdel(key, ...clear);
    await multi.exec();
  };

  const store: MailboxStore = {
    async connect(input) {
      const address = normalizeAddress(input.address);
      if (!isHistoryId(input.historyId)) throw new Error(`not a Gmail history id: ${input.historyId}`);
      if (input.auth === 'oauth' && !input.refreshToken) throw new Error('an oauth mailbox needs a refresh token');
      const credential = input.refreshToken ? requireCipher().encrypt(input.refreshToken, address) : '';
      const resumed = await CONNECT_SCRIPT.run(
        redis,
        [keyOf(address), setKey],
        [
          address,
          input.historyId,
          String(input.now ?? Date.now()),
          input.auth,
          credential,
          String(input.watchExpiresAt),
          input.labelErrors ? '1' : '0',
        ],
      );
      return { ...(await store.get(address))!, resumed: resumed === 1 };
    },
    async get(address) {
      const hash = await redis.hgetall(keyOf(address));
      return toMailbox(hash);
    },
    async list() {
      const addresses = (await redis.smembers(setKey)).sort();
      const mailboxes = await Promise.all(addresses.map((a) => store.get(a)));
      return mailboxes.filter((m): m is Mailbox => m !== null);
    },
    async refreshToken(address) {
      return (await store.credential(address)).refreshToken;
    },
    async credential(address) {
      const [blob, grant] = await redis.hmget(keyOf(address), 'credential', 'grant');
      if (!blob) throw new Error(`no stored credential for ${normalizeAddress(address)}`);
      return { refreshToken: requireCipher().decrypt(blob, normalizeAddress(address)), grant: Number(grant ?? 0) };
    },
    async advanceHistoryId(address, historyId, now = Date.now(), advanceOptions = {}) {
      if (!isHistoryId(historyId)) throw new Error(`not a Gmail history id: ${historyId}`);
      const readThrough = advanceOptions.readThroughAt === undefined ? '' : String(advanceOptions.readThroughAt);
      return (await ADVANCE_HISTORY_SCRIPT.run(redis, [keyOf(address)], [historyId, String(now), readThrough])) === 1;
    },
    async touchSync(address, now = Date.now()) {
      await setIfExists(address, { last_sync_at: String(now) });
    },
    async recordWatch(address, expiresAt) {
      await setIfExists(address, { watch_expires_at: String(expiresAt) }, ['watch_failed_at', 'watch_error']);
    },
    async recordWatchFailure(address, error, now = Date.now()) {
      await setIfExists(address, { watch_failed_at: String(now), watch_error: error.slice(0, 300) });
    },
    async recordResyncGap(address, gap) {
      // One writer per mailbox (the sync lock) and the operator's acknowledgement: retry the rare race.
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const raw = (await redis.hget(keyOf(address), 'resync_gap')) ?? '';
        const merged = mergeResyncGaps(parseResyncGap(raw), gap);
        if ((await SET_GAP_SCRIPT.run(redis, [keyOf(address)], [raw, JSON.stringify(merged)])) !== -1) return;
      }
      throw new Error(`could not record the resync gap of ${normalizeAddress(address)} (concurrent changes)`);
    },
    async acknowledgeResyncGap(address, ackOptions = {}) {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const raw = await redis.hget(keyOf(address), 'resync_gap');
        const gap = parseResyncGap(raw);
        if (!raw) return { status: 'none' };
        if (gap && ackOptions.lastAt !== undefined && gap.last_at !== ackOptions.lastAt) return { status: 'changed', gap };
        // Deleted only if unchanged since read (a resync may merge a new cut meanwhile).
        if ((await SET_GAP_SCRIPT.run(redis, [keyOf(address)], [raw, ''])) !== -1)
          return gap ? { status: 'acknowledged', gap } : { status: 'none' };
      }
      throw new Error(`could not acknowledge the resync gap of ${normalizeAddress(address)} (concurrent changes)`);
    },
    async setRateLimitedUntil(address, until) {
      await setIfExists(address, { rate_limited_until: String(until) });
    },
    async setSyncError(address, error) {
      if (error === undefined) await setIfExists(address, {}, ['sync_error']);
      else await setIfExists(address, { sync_error: error.slice(0, 500) });
    },
    async markNeedsReauth(address, reason, grant) {
      return (await MARK_NEEDS_REAUTH_SCRIPT.run(redis, [keyOf(address)], [grant === undefined ? '' : String(grant), reason])) === 1;
    },
    async seenMessages(address, ids) {
      const seen = new Set<string>();
      // A full resync may ask about thousands of ids: in chunks, one round trip each.
      for (let i = 0; i < ids.length; i += SEEN_CHUNK) {
        const chunk = ids.slice(i, i + SEEN_CHUNK);
        const scores = await redis.zmscore(seenKeyOf(address), ...chunk);
        chunk.forEach((id, j) => scores[j] !== null && seen.add(id));
      }
      return seen;
    },
    async rememberMessages(address, ids, keepMs, now = Date.now()) {
      const key = seenKeyOf(address);
      const multi = redis.multi().zremrangebyscore(key, '-inf', String(now - keepMs));
      for (let i = 0; i < ids.length; i += SEEN_CHUNK) multi.zadd(key, ...ids.slice(i, i + SEEN_CHUNK).flatMap((id) => [String(now), id]));
      await multi.pexpire(key, keepMs).exec();
    },
    async remove(address) {
      const [[, removed] = [null, 0]] =
        (await redis.multi().srem(setKey, normalizeAddress(address)).del(keyOf(address), seenKeyOf(address)).exec()) ?? [];
      return removed === 1;
    },
  };
  return store;
}
