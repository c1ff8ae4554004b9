import { hash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

const digest = (value: string) => hash('sha256', value, 'buffer');

/**
 * The ingress token check: `Authorization: Bearer <token>` or the bare token (the original accepted both).
 * Any of the configured tokens passes (rotation). Compared in constant time on fixed-length digests.
 */
export function bearerTokenCheck(tokens: string[]): (req: Request) => boolean {
  const expected = tokens.map(digest);
  return (req) => {
    const header = req.get('authorization') ?? '';
    const presented = header.replace(/^Bearer\s+/i, '').trim();
    const candidate = digest(presented);
    let ok = false;
    for (const token of expected) ok = timingSafeEqual(candidate, token) || ok;
    return Boolean(presented) && ok;
  };
}
