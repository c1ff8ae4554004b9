import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

const BEARER = /^Bearer\s+/i;

/**
 * The ingress token check: `Authorization: Bearer <token>` or the bare token (the original accepted both).
 * Any of the configured tokens passes (rotation). Compared in constant time: a presented value of another
 * length is compared with the token itself (the same work), so neither the token nor its length shows in the
 * answer's timing. No hash per request: this runs for every POST.
 */
export function bearerTokenCheck(tokens: string[]): (req: Request) => boolean {
  const expected = tokens.map((token) => Buffer.from(token, 'utf8'));
  return (req) => {
    const header = req.headers.authorization ?? '';
    const presented = Buffer.from(header.replace(BEARER, '').trim(), 'utf8');
    let ok = false;
    for (const token of expected) {
      const sameLength = presented.length === token.length;
      if (timingSafeEqual(sameLength ? presented : token, token) && sameLength) ok = true;
    }
    return ok && presented.length > 0;
  };
}
