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
  /** The last full resync stopped at GMAIL_RESYNC_MAX_MESSAGES: older mail of the gap was not read. */
  resyncTruncatedAt: number | undefined;
  /** A sync fails for a reason retrying cannot fix (e.g. a label name in GMAIL_LABEL_FILTER); cleared by a good sync. */
  syncError: string | undefined;
  /** Consent included gmail.modify: unreadable messages get the error label in Gmail. */
  labelErrors: boolean;
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
  advanceHistoryId(address: string, historyId: string, now?: number): Promise<boolean>;
  /** A sync finished without moving the history id (ingress or sending paused): the mailbox is not stale. */
  touchSync(address: string, now?: number): Promise<void>;
  /** A successful users.watch: new expiry, any renewal failure cleared. */
  recordWatch(address: string, expiresAt: number): Promise<void>;
  recordWatchFailure(address: string, error: string, now?: number): Promise<void>;
  /** Set when a full resync hit its bound, cleared (`undefined`) by one that read everything. */
  recordResync(address: string, truncatedAt: number | undefined): Promise<void>;
  setSyncError(address: string, error: string | undefined): Promise<void>;
  markNeedsReauth(address: string, reason: string): Promise<void>;
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
-- ARGV[1] the proposed history id (decimal string), ARGV[2] now (epoch ms)
-- Returns 1 when the id moved forward, 0 otherwise (older or equal id, or no such mailbox).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
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
  resync_truncated_at: epochMs,
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
    resyncTruncatedAt: h.resync_truncated_at,
    syncError: h.sync_error,
    labelErrors: h.label_errors === '1',
  };
}

/**
 * Reconnect: keep where the sync stands and when the mailbox was first connected; everything else
 * (state, credential, watch, errors) starts afresh. A first connect starts from the new watch's id.
 */
const CONNECT_SCRIPT = redisScript(`
-- Connects (or reconnects) a mailbox.
-- KEYS[1] the mailbox hash, KEYS[2] the set of mailbox addresses
-- ARGV[1] address, ARGV[2] the new watch's history id, ARGV[3] now (epoch ms), ARGV[4] auth, ARGV[5] encrypted
--   credential, ARGV[6] watch expiry (epoch ms), ARGV[7] label errors ('1' or '0')
-- Returns 1 when a previous sync position was kept (resumed), 0 for a first connect.
local previous = redis.call('HMGET', KEYS[1], 'history_id', 'connected_at')
redis.call('DEL', KEYS[1])
local history = previous[1] or ARGV[2]
local connected = previous[2] or ARGV[3]
redis.call('HSET', KEYS[1], 'address', ARGV[1], 'state', 'active', 'auth', ARGV[4], 'credential', ARGV[5],
  'history_id', history, 'watch_expires_at', ARGV[6], 'connected_at', connected, 'label_errors', ARGV[7], 'last_connect_at', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
if previous[1] then return 1 end
return 0
`);

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
      const blob = await redis.hget(keyOf(address), 'credential');
      if (!blob) throw new Error(`no stored credential for ${normalizeAddress(address)}`);
      return requireCipher().decrypt(blob, normalizeAddress(address));
    },
    async advanceHistoryId(address, historyId, now = Date.now()) {
      if (!isHistoryId(historyId)) throw new Error(`not a Gmail history id: ${historyId}`);
      return (await ADVANCE_HISTORY_SCRIPT.run(redis, [keyOf(address)], [historyId, String(now)])) === 1;
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
    async recordResync(address, truncatedAt) {
      if (truncatedAt === undefined) await setIfExists(address, {}, ['resync_truncated_at']);
      else await setIfExists(address, { resync_truncated_at: String(truncatedAt) });
    },
    async setSyncError(address, error) {
      if (error === undefined) await setIfExists(address, {}, ['sync_error']);
      else await setIfExists(address, { sync_error: error.slice(0, 500) });
    },
    async markNeedsReauth(address, reason) {
      await setIfExists(address, { state: 'needs_reauth', last_error: reason });
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
