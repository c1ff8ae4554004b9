import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh CSRF token (256 bits, base64url): stored in the session claims and in the readable double-submit cookie. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time string equality (compares fixed-length digests, so lengths leak nothing either). */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** True when the token the client presented (header) is the session's own token. Empty never matches. */
export function csrfTokensMatch(expected: string | undefined, presented: string | undefined): boolean {
  if (!expected || !presented) return false;
  return constantTimeEqual(expected, presented);
}
