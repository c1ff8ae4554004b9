import type { Cluster, Redis } from 'ioredis';
import type { CredentialCipher } from './credential-cipher';

/**
 * The connected Gmail mailboxes, in Redis: one hash per mailbox plus a set of addresses.
 * `<prefix>:gmail:mailboxes` (set) and `<prefix>:gmail:mailbox:<address>` (hash). The refresh token is
 * stored encrypted (see credential-cipher); nothing else in the hash is secret.
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
  connectedAt: number;
  lastSyncAt: number | undefined;
  /** Why the mailbox needs attention (never a token). */
  lastError: string | undefined;
}

export interface ConnectMailboxInput {
  address: string;
  auth: MailboxAuth;
  /** Required for `oauth`. */
  refreshToken?: string;
  historyId: string;
  watchExpiresAt: number;
  now?: number;
}

export interface MailboxStore {
  connect(input: ConnectMailboxInput): Promise<Mailbox>;
  get(address: string): Promise<Mailbox | null>;
  list(): Promise<Mailbox[]>;
  /** The decrypted refresh token; throws when the store has no cipher or the mailbox has none. */
  refreshToken(address: string): Promise<string>;
  /**
   * Moves the history id forward, never back (an out-of-order writer cannot rewind it). Answers
   * whether it moved. Checked and set in one Lua script.
   */
  advanceHistoryId(address: string, historyId: string, now?: number): Promise<boolean>;
  recordWatch(address: string, expiresAt: number): Promise<void>;
  markNeedsReauth(address: string, reason: string): Promise<void>;
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
const ADVANCE_HISTORY_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = redis.call('HGET', KEYS[1], 'history_id')
local proposed = ARGV[1]
if current and (#current > #proposed or (#current == #proposed and current >= proposed)) then
  redis.call('HSET', KEYS[1], 'last_sync_at', ARGV[2])
  return 0
end
redis.call('HSET', KEYS[1], 'history_id', proposed, 'last_sync_at', ARGV[2])
return 1
`;

const HISTORY_ID = /^[1-9][0-9]{0,19}$/;

export function isHistoryId(value: string): boolean {
  return HISTORY_ID.test(value);
}

/** True when `a` is a later history id than `b` (both decimal strings). */
export function isLaterHistoryId(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

function toMailbox(hash: Record<string, string>): Mailbox | null {
  if (!hash.address) return null;
  const number = (value: string | undefined) => (value ? Number(value) : undefined);
  return {
    address: hash.address,
    state: hash.state === 'needs_reauth' ? 'needs_reauth' : 'active',
    auth: hash.auth === 'service_account' ? 'service_account' : 'oauth',
    historyId: hash.history_id || undefined,
    watchExpiresAt: number(hash.watch_expires_at),
    connectedAt: Number(hash.connected_at ?? 0),
    lastSyncAt: number(hash.last_sync_at),
    lastError: hash.last_error || undefined,
  };
}

export function createMailboxStore(options: MailboxStoreOptions): MailboxStore {
  const { redis, prefix, cipher } = options;
  const setKey = `${prefix}:gmail:mailboxes`;
  const keyOf = (address: string) => `${prefix}:gmail:mailbox:${normalizeAddress(address)}`;
  const requireCipher = () => {
    if (!cipher) throw new Error('the mailbox store has no credential cipher (SECRET_KEY not set?)');
    return cipher;
  };

  const store: MailboxStore = {
    async connect(input) {
      const address = normalizeAddress(input.address);
      if (!isHistoryId(input.historyId)) throw new Error(`not a Gmail history id: ${input.historyId}`);
      if (input.auth === 'oauth' && !input.refreshToken) throw new Error('an oauth mailbox needs a refresh token');
      const credential = input.refreshToken ? requireCipher().encrypt(input.refreshToken, address) : '';
      const key = keyOf(address);
      // A reconnect replaces everything: the new watch's history id is where syncing resumes.
      await redis
        .multi()
        .del(key)
        .hset(key, {
          address,
          state: 'active',
          auth: input.auth,
          credential,
          history_id: input.historyId,
          watch_expires_at: String(input.watchExpiresAt),
          connected_at: String(input.now ?? Date.now()),
        })
        .sadd(setKey, address)
        .exec();
      return (await store.get(address))!;
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
      return (await redis.eval(ADVANCE_HISTORY_SCRIPT, 1, keyOf(address), historyId, String(now))) === 1;
    },
    async recordWatch(address, expiresAt) {
      const key = keyOf(address);
      if (await redis.exists(key)) await redis.hset(key, 'watch_expires_at', String(expiresAt));
    },
    async markNeedsReauth(address, reason) {
      const key = keyOf(address);
      if (await redis.exists(key)) await redis.hset(key, 'state', 'needs_reauth', 'last_error', reason);
    },
    async remove(address) {
      const [[, removed] = [null, 0]] = (await redis.multi().srem(setKey, normalizeAddress(address)).del(keyOf(address)).exec()) ?? [];
      return removed === 1;
    },
  };
  return store;
}
