import { randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { MAGIC_LINK_AUDIENCE, TOKEN_ISSUER } from './keys';
import { redisScript } from '@render-signal/queue';

/**
 * Magic links (the original's `/login/magic/<token>`): a JWT with a `jti`. One-shot links carry `exp`
 * and are consumed atomically in Redis; `unlimited` ones have no `exp`, are reusable, and are listed
 * in a Redis hash so an operator can revoke them.
 */
export type MagicLinkFailure = 'invalid' | 'expired' | 'unknown' | 'used' | 'revoked';

/** Shown on the refusal page: the original's French messages where it had one. */
export const MAGIC_LINK_FAILURE_MESSAGES: Record<MagicLinkFailure, string> = {
  invalid: 'Lien de connexion invalide.',
  expired: 'Lien de connexion expiré.',
  unknown: 'Lien inconnu ou déjà consommé.',
  used: 'Lien déjà utilisé.',
  revoked: 'Lien révoqué.',
};

export interface IssuedMagicLink {
  token: string;
  id: string;
  /** null for unlimited links. */
  expiresAt: Date | null;
  unlimited: boolean;
}

export interface PermanentMagicLink {
  id: string;
  created_at: string;
  last_used_at: string | null;
  /** When MAGIC_LINK_PERMANENT_MAX_AGE ends it (null: until revoked). */
  expires_at: string | null;
  label: string | null;
}

export type ConsumeResult = { ok: true; id: string; unlimited: boolean } | { ok: false; reason: MagicLinkFailure };

export interface MagicLinkStore {
  issue(options: { unlimited: boolean; ttlSeconds: number; label?: string; now?: Date }): Promise<IssuedMagicLink>;
  consume(token: string, now?: Date): Promise<ConsumeResult>;
  listPermanent(now?: Date): Promise<PermanentMagicLink[]>;
  revoke(id: string): Promise<boolean>;
  /** Whether a permanent link still grants access (exists, within its maximum age): checked by its sessions. */
  isActive(id: string, now?: Date): Promise<boolean>;
}

export interface MagicLinkStoreOptions {
  redis: Redis | Cluster;
  /** QUEUE_PREFIX: keys live under `<prefix>:auth:magic:…`. */
  prefix: string;
  key: Uint8Array;
  /** MAGIC_LINK_PERMANENT_MAX_AGE: a permanent link older than this is refused (undefined: until revoked). */
  permanentMaxAgeMs?: number | undefined;
}

/** A permanent link's stored record (a hash field per link id). */
const permanentRecordSchema = z.object({
  created_at: z.string().catch(''),
  label: z.string().nullable().catch(null),
});
type PermanentRecord = z.infer<typeof permanentRecordSchema>;

function parsePermanentRecord(raw: string): PermanentRecord {
  try {
    return permanentRecordSchema.parse(JSON.parse(raw));
  } catch {
    // A damaged record is still listed so it can be revoked.
    return { created_at: '', label: null };
  }
}

// Atomic one-shot consumption: of two simultaneous clicks exactly one sees 'issued'.
export const CONSUME_SCRIPT = redisScript(`
-- Consumes a one-shot magic link.
-- KEYS[1] the link's one-shot record
-- ARGV none
-- Returns 1 consumed now, 2 already consumed, 0 not found (never issued, or its record expired).
local state = redis.call('GET', KEYS[1])
if state == 'issued' then
  redis.call('SET', KEYS[1], 'consumed', 'KEEPTTL')
  return 1
end
if state == 'consumed' then return 2 end
return 0
`);

/** Consumed records outlive the link itself so a late second click still reads "already used". */
export const CONSUMED_RECORD_GRACE_S = 24 * 3600;

/** The store's keys (also written by `npm run migrate` for the original's links: listed and revoked alike). */
export function magicLinkKeys(prefix: string) {
  return {
    oneShot: (id: string) => `${prefix}:auth:magic:once:${id}`,
    permanent: `${prefix}:auth:magic:permanent`,
    lastUsed: `${prefix}:auth:magic:permanent:last_used`,
  };
}

export function createMagicLinkStore(options: MagicLinkStoreOptions): MagicLinkStore {
  const { redis, key } = options;
  const keys = magicLinkKeys(options.prefix);
  const oneShotKey = keys.oneShot;
  const permanentKey = keys.permanent;
  const lastUsedKey = keys.lastUsed;
  const maxAge = options.permanentMaxAgeMs;
  /** When a permanent link stops working (null: never). A record without a readable date is not aged out. */
  const expiryOf = (record: PermanentRecord): number | null => {
    const created = Date.parse(record.created_at);
    return maxAge === undefined || Number.isNaN(created) ? null : created + maxAge;
  };
  /** 'active', 'revoked' (no record) or 'expired' (past the maximum age). */
  async function permanentState(id: string, now: Date): Promise<'active' | 'revoked' | 'expired'> {
    const raw = await redis.hget(permanentKey, id);
    if (raw === null) return 'revoked';
    const expiry = expiryOf(parsePermanentRecord(raw));
    return expiry !== null && now.getTime() >= expiry ? 'expired' : 'active';
  }

  async function verify(token: string, now: Date): Promise<{ id: string; unlimited: boolean } | MagicLinkFailure> {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience: MAGIC_LINK_AUDIENCE,
        requiredClaims: ['jti'],
        currentDate: now,
      });
      const unlimited = payload.unlimited === true;
      // A one-shot link without exp is forged or malformed: signed tokens we issue always carry it.
      if (typeof payload.jti !== 'string' || (!unlimited && typeof payload.exp !== 'number')) return 'invalid';
      return { id: payload.jti, unlimited };
    } catch (error) {
      return error instanceof joseErrors.JWTExpired ? 'expired' : 'invalid';
    }
  }

  return {
    async issue({ unlimited, ttlSeconds, label, now = new Date() }) {
      const id = randomBytes(16).toString('base64url');
      const iat = Math.floor(now.getTime() / 1000);
      const jwt = new SignJWT(unlimited ? { unlimited: true } : {})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(MAGIC_LINK_AUDIENCE)
        .setJti(id)
        .setIssuedAt(iat);
      if (unlimited) {
        const record = { created_at: now.toISOString(), label: label ?? null };
        await redis.hset(permanentKey, id, JSON.stringify(record));
        return { token: await jwt.sign(key), id, expiresAt: null, unlimited: true };
      }
      const exp = iat + ttlSeconds;
      await redis.set(oneShotKey(id), 'issued', 'EX', ttlSeconds + CONSUMED_RECORD_GRACE_S);
      return { token: await jwt.setExpirationTime(exp).sign(key), id, expiresAt: new Date(exp * 1000), unlimited: false };
    },

    async consume(token, now = new Date()) {
      const verified = await verify(token, now);
      if (typeof verified === 'string') return { ok: false, reason: verified };
      if (verified.unlimited) {
        const state = await permanentState(verified.id, now);
        if (state !== 'active') return { ok: false, reason: state };
        await redis.hset(lastUsedKey, verified.id, now.toISOString());
        return { ok: true, id: verified.id, unlimited: true };
      }
      const outcome = (await CONSUME_SCRIPT.run(redis, [oneShotKey(verified.id)], [])) as number;
      if (outcome === 1) return { ok: true, id: verified.id, unlimited: false };
      return { ok: false, reason: outcome === 2 ? 'used' : 'unknown' };
    },

    async listPermanent() {
      const [records, lastUsed] = await Promise.all([redis.hgetall(permanentKey), redis.hgetall(lastUsedKey)]);
      return Object.entries(records)
        .map(([id, raw]) => {
          const record = parsePermanentRecord(raw);
          const expiry = expiryOf(record);
          return {
            id,
            created_at: record.created_at,
            last_used_at: lastUsed[id] ?? null,
            expires_at: expiry === null ? null : new Date(expiry).toISOString(),
            label: record.label,
          };
        })
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
    },

    async isActive(id, now = new Date()) {
      return (await permanentState(id, now)) === 'active';
    },

    async revoke(id) {
      const [removed] = await Promise.all([redis.hdel(permanentKey, id), redis.hdel(lastUsedKey, id)]);
      return removed === 1;
    },
  };
}
