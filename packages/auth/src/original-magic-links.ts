import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { CONSUME_SCRIPT, CONSUMED_RECORD_GRACE_S, magicLinkKeys, type ConsumeResult, type MagicLinkStore } from './magic-links';

/**
 * Magic links issued by the original Python server (docs/original-behaviour.md, "Magic links"):
 * `<id>.<expires|permanent>.<hex HMAC-SHA256(SECRET_KEY, "<id>.<expires>")>`, where `expires` is Unix seconds.
 * `npm run migrate` carries their records into our magic-link store (same keys as magic-links.ts): a permanent
 * link joins the revocable list, an unexpired one-shot link becomes a one-shot record. With the same SECRET_KEY
 * (or FLASK_SECRET_KEY), the links people bookmarked keep working: permanent ones until revoked, one-shot ones once.
 */

const ORIGINAL_TOKEN = /^([A-Za-z0-9_-]{1,128})\.(permanent|\d{1,12})\.([0-9a-fA-F]{64})$/;

export interface OriginalToken {
  id: string;
  /** Unix seconds; null for a permanent link. */
  expires: number | null;
  signature: string;
}

/** The parts of an original token, or null when the text is not one (our links are JWTs: their middle part is base64). */
export function parseOriginalToken(token: string): OriginalToken | null {
  const match = ORIGINAL_TOKEN.exec(token.trim());
  if (!match) return null;
  return { id: match[1]!, expires: match[2] === 'permanent' ? null : Number(match[2]), signature: match[3]!.toLowerCase() };
}

/** The original's signature: hex HMAC-SHA256 keyed with the raw secret over `<id>.<expires|permanent>`. */
export function signOriginalToken(secret: string, id: string, expires: number | null): string {
  return createHmac('sha256', secret)
    .update(`${id}.${expires === null ? 'permanent' : String(expires)}`, 'utf8')
    .digest('hex');
}

/** A token as the original issued it (tests, and operators checking a secret). */
export function originalToken(secret: string, id: string, expires: number | null): string {
  return `${id}.${expires === null ? 'permanent' : String(expires)}.${signOriginalToken(secret, id, expires)}`;
}

export interface OriginalMagicLinkOptions {
  redis: Redis | Cluster;
  prefix: string;
  /** SECRET_KEY (FLASK_SECRET_KEY in the original): the raw HMAC key, as the original used it. */
  secret: string;
  /** The store's verdict on a permanent link (e.g. past MAGIC_LINK_PERMANENT_MAX_AGE); only a listed link is asked. */
  isActive?: (id: string, now: Date) => Promise<boolean>;
}

/** Checks and consumes an original token against the carried records. */
export async function consumeOriginalToken(
  token: OriginalToken,
  options: OriginalMagicLinkOptions,
  now = new Date(),
): Promise<ConsumeResult> {
  const expected = Buffer.from(signOriginalToken(options.secret, token.id, token.expires), 'hex');
  const given = Buffer.from(token.signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
  const keys = magicLinkKeys(options.prefix);
  if (token.expires === null) {
    if (!(await options.redis.hexists(keys.permanent, token.id))) return { ok: false, reason: 'revoked' };
    if (options.isActive && !(await options.isActive(token.id, now))) return { ok: false, reason: 'expired' };
    await options.redis.hset(keys.lastUsed, token.id, now.toISOString());
    return { ok: true, id: token.id, unlimited: true };
  }
  if (token.expires * 1000 < now.getTime()) return { ok: false, reason: 'expired' };
  const outcome = (await CONSUME_SCRIPT.run(options.redis, [keys.oneShot(token.id)], [])) as number;
  if (outcome === 1) return { ok: true, id: token.id, unlimited: false };
  return { ok: false, reason: outcome === 2 ? 'used' : 'unknown' };
}

/** Our store, also accepting the original's tokens (same records, same list, same revocation). */
export function withOriginalMagicLinks(store: MagicLinkStore, options: OriginalMagicLinkOptions): MagicLinkStore {
  return {
    ...store,
    consume(token, now) {
      const original = parseOriginalToken(token);
      if (!original) return store.consume(token, now);
      return consumeOriginalToken(original, { ...options, isActive: (id, at) => store.isActive(id, at) }, now);
    },
  };
}

/** A carried record: a permanent link, or a one-shot link still unused and unexpired. */
export interface CarriedMagicLink {
  id: string;
  /** Unix seconds; null for permanent. */
  expires: number | null;
}

export const CARRIED_LINK_LABEL = 'Lien de l’ancien serveur';

/** Whether a carried record is already in the store (permanent list or one-shot key). */
export async function hasMagicLink(redis: Redis | Cluster, prefix: string, link: CarriedMagicLink): Promise<boolean> {
  const keys = magicLinkKeys(prefix);
  return link.expires === null ? (await redis.hexists(keys.permanent, link.id)) === 1 : (await redis.exists(keys.oneShot(link.id))) === 1;
}

/** Writes a carried record into the store; false when it was there already. */
export async function storeCarriedMagicLink(
  redis: Redis | Cluster,
  prefix: string,
  link: CarriedMagicLink,
  now = new Date(),
): Promise<boolean> {
  const keys = magicLinkKeys(prefix);
  if (link.expires === null) {
    const record = { created_at: now.toISOString(), label: CARRIED_LINK_LABEL, origin: 'original' };
    return (await redis.hsetnx(keys.permanent, link.id, JSON.stringify(record))) === 1;
  }
  const ttl = link.expires - Math.floor(now.getTime() / 1000);
  if (ttl <= 0) return false;
  return (await redis.set(keys.oneShot(link.id), 'issued', 'EX', ttl + CONSUMED_RECORD_GRACE_S, 'NX')) === 'OK';
}
