import { randomUUID } from 'node:crypto';
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
  ttlMs: number;
  now?: Date;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export async function issueSession(key: Uint8Array, options: IssueSessionOptions): Promise<IssuedSession> {
  const now = options.now ?? new Date();
  const claims: SessionClaims = {
    sub: options.subject,
    jti: randomUUID(),
    csrf: newCsrfToken(),
    via: options.via,
    iat: seconds(now),
    exp: seconds(now) + Math.max(1, Math.round(options.ttlMs / 1000)),
  };
  const token = await new SignJWT({ csrf: claims.csrf, via: claims.via })
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
    const { sub, jti, exp, iat, csrf, via } = payload as Record<string, unknown>;
    if (
      typeof sub !== 'string' ||
      typeof jti !== 'string' ||
      typeof csrf !== 'string' ||
      typeof exp !== 'number' ||
      typeof iat !== 'number'
    )
      return null;
    return { sub, jti, csrf, exp, iat, via: via === 'magic_link' ? 'magic_link' : 'password' };
  } catch {
    return null;
  }
}

/** Logout: the session's jti is deny-listed in Redis until the token would have expired anyway. */
export interface SessionRevocations {
  revoke(claims: Pick<SessionClaims, 'jti' | 'exp'>, now?: Date): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}

export function createSessionRevocations(options: { redis: Redis | Cluster; prefix: string }): SessionRevocations {
  const keyFor = (jti: string) => `${options.prefix}:auth:session:revoked:${jti}`;
  return {
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
