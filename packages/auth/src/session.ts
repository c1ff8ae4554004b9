import { createHmac, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Cluster, Redis } from 'ioredis';
import { newCsrfToken } from './csrf';
import { SESSION_AUDIENCE, TOKEN_ISSUER } from './keys';

/**
 * Dashboard sessions: a short HS256 JWT in an HttpOnly cookie, so any API instance accepts it without
 * shared memory. The CSRF token lives in the claims (and in a readable double-submit cookie).
 */
export interface SessionClaims {
  sub: string;
  jti: string;
  csrf: string;
  /** How the operator logged in. */
  via: 'password' | 'magic_link';
  /**
   * The credential the session was made with, checked on every request (see `sessionBindingHolds`):
   * `password:<generation>` (a keyed digest of the password then configured) or `link:<magic-link id>`.
   */
  cred: string;
  /** The "log out every session" generation at login: a session of an older generation is over. */
  epoch: number;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
}

export interface IssuedSession {
  token: string;
  claims: SessionClaims;
}

export interface IssueSessionOptions {
  subject: string;
  via: SessionClaims['via'];
  /** From `passwordCredential()` or `magicLinkCredential()`. */
  cred: string;
  epoch: number;
  ttlMs: number;
  now?: Date;
}

/**
 * The password's generation: an HMAC of user and password under the session key. It changes when
 * TRIGGER_PAGE_PASSWORD (or the user) changes, so sessions made with the old password end at the next
 * restart; the token (readable by its holder) never carries a plain digest of the password.
 */
export function passwordCredential(sessionKey: Uint8Array, user: string, password: string): string {
  const generation = createHmac('sha256', sessionKey).update(`password-generation\0${user}\0${password}`, 'utf8').digest('base64url');
  return `password:${generation.slice(0, 22)}`;
}

/**
 * A session opened by a magic link is bound to the link's id. A permanent link (ours or a migrated one)
 * is checked on every request: revoking it, or its maximum age, ends its sessions. A one-shot link is
 * spent once used: its sessions end by logout, "log out every session" or expiry.
 */
export function magicLinkCredential(linkId: string, permanent: boolean): string {
  return permanent ? `link:${linkId}` : `link-once:${linkId}`;
}

/** The permanent link id a session is bound to, if any. */
export function boundMagicLinkId(claims: Pick<SessionClaims, 'cred'>): string | undefined {
  return claims.cred.startsWith('link:') ? claims.cred.slice('link:'.length) : undefined;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export async function issueSession(key: Uint8Array, options: IssueSessionOptions): Promise<IssuedSession> {
  const now = options.now ?? new Date();
  const claims: SessionClaims = {
    sub: options.subject,
    jti: randomUUID(),
    csrf: newCsrfToken(),
    via: options.via,
    cred: options.cred,
    epoch: options.epoch,
    iat: seconds(now),
    exp: seconds(now) + Math.max(1, Math.round(options.ttlMs / 1000)),
  };
  const token = await new SignJWT({ csrf: claims.csrf, via: claims.via, cred: claims.cred, epoch: claims.epoch })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(SESSION_AUDIENCE)
    .setSubject(claims.sub)
    .setJti(claims.jti)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(key);
  return { token, claims };
}

/** The claims of a valid, unexpired session token; null for anything else (bad signature, expired, wrong kind). */
export async function verifySession(key: Uint8Array, token: string | undefined, now?: Date): Promise<SessionClaims | null> {
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      issuer: TOKEN_ISSUER,
      audience: SESSION_AUDIENCE,
      requiredClaims: ['sub', 'jti', 'exp', 'iat'],
      ...(now ? { currentDate: now } : {}),
    });
    const { sub, jti, exp, iat, csrf, via, cred, epoch } = payload as Record<string, unknown>;
    // A token without a credential binding (made before bindings existed) cannot be checked: refused.
    if (
      typeof sub !== 'string' ||
      typeof jti !== 'string' ||
      typeof csrf !== 'string' ||
      typeof exp !== 'number' ||
      typeof iat !== 'number' ||
      typeof cred !== 'string' ||
      typeof epoch !== 'number'
    )
      return null;
    return { sub, jti, csrf, exp, iat, cred, epoch, via: via === 'magic_link' ? 'magic_link' : 'password' };
  } catch {
    return null;
  }
}

/**
 * Logout: the session's jti is deny-listed in Redis until the token would have expired anyway.
 * "Log out every session": a generation counter; sessions carry the value they were made under.
 */
export interface SessionRevocations {
  revoke(claims: Pick<SessionClaims, 'jti' | 'exp'>, now?: Date): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
  /** The current generation (0 until the first "log out every session"). */
  currentEpoch(): Promise<number>;
  /** Ends every session made so far; returns the new generation. */
  revokeAll(): Promise<number>;
}

/** What the binding check knows about the present state (read from Redis and the running config). */
export interface SessionBindingFacts {
  /** The session's jti is on the deny-list (logged out). */
  revoked: boolean;
  currentEpoch: number;
  /** passwordCredential() of the configured password; undefined when password login is off. */
  passwordCredential: string | undefined;
  /** For a session bound to a magic link: whether that link still grants access (not revoked, not too old). */
  linkActive?: boolean;
}

/** Pure: whether a verified session still stands, given what granted it and what has changed since. */
export function sessionBindingHolds(claims: Pick<SessionClaims, 'cred' | 'epoch'>, facts: SessionBindingFacts): boolean {
  if (facts.revoked || claims.epoch !== facts.currentEpoch) return false;
  if (claims.cred.startsWith('password:')) return facts.passwordCredential !== undefined && claims.cred === facts.passwordCredential;
  if (boundMagicLinkId(claims) !== undefined) return facts.linkActive === true;
  return claims.cred.startsWith('link-once:');
}

export function createSessionRevocations(options: { redis: Redis | Cluster; prefix: string }): SessionRevocations {
  const keyFor = (jti: string) => `${options.prefix}:auth:session:revoked:${jti}`;
  const epochKey = `${options.prefix}:auth:session:epoch`;
  return {
    async currentEpoch() {
      return Number((await options.redis.get(epochKey)) ?? 0) || 0;
    },
    async revokeAll() {
      return options.redis.incr(epochKey);
    },
    async revoke(claims, now = new Date()) {
      const remainingMs = claims.exp * 1000 - now.getTime();
      if (remainingMs <= 0) return;
      await options.redis.set(keyFor(claims.jti), '1', 'PX', remainingMs + 1_000);
    },
    async isRevoked(jti) {
      return (await options.redis.exists(keyFor(jti))) === 1;
    },
  };
}
