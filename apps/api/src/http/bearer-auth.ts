import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ApiError } from './api-error';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The ingress token check: `Authorization: Bearer <token>` or the bare token (the original accepted both).
 * Any of the configured tokens passes (rotation). Compared in constant time on fixed-length digests.
 */
export function bearerAuth(tokens: string[]): RequestHandler {
  const expected = tokens.map(digest);
  return (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const presented = header.replace(/^Bearer\s+/i, '').trim();
    const candidate = digest(presented);
    let ok = false;
    for (const token of expected) ok = timingSafeEqual(candidate, token) || ok;
    if (!presented || !ok) return next(new ApiError(401, 'unauthorized', 'Unauthorized'));
    next();
  };
}
