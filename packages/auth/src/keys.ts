import { hkdfSync } from 'node:crypto';

/**
 * One SECRET_KEY, several purposes: each gets its own HKDF-derived HS256 key, so a session token can
 * never be replayed as a magic link (or the reverse) even before the audience check.
 */
export interface AuthKeys {
  session: Uint8Array;
  magicLink: Uint8Array;
}

function derive(secret: string, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from('render-signal/auth', 'utf8'), purpose, 32));
}

export function deriveAuthKeys(secretKey: string): AuthKeys {
  return { session: derive(secretKey, 'session/v1'), magicLink: derive(secretKey, 'magic-link/v1') };
}

/** Issuer written in every token; audiences below tell the token kinds apart. */
export const TOKEN_ISSUER = 'render-signal';
export const SESSION_AUDIENCE = 'render-signal:session';
export const MAGIC_LINK_AUDIENCE = 'render-signal:magic-link';
