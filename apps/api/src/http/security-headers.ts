import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Security headers on every response but the ingress's (the original's list, tightened): CSP allowing only our own
 * origin (no inline script; the dashboard is a bundled file), frames denied, HSTS, nosniff,
 * strict-origin-when-cross-origin referrers. `upgrade-insecure-requests` is left out: HSTS covers
 * production and it would break plain-http local runs.
 */
const SELF_ONLY_DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
};

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: SELF_ONLY_DIRECTIVES },
    frameguard: { action: 'deny' },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    crossOriginEmbedderPolicy: false,
  });
}

/**
 * Bull Board's bundled UI sets inline styles (its loading screen, some components): styles only get
 * 'unsafe-inline' there, as the original allowed everywhere. Scripts stay 'self'.
 */
export function bullBoardContentSecurityPolicy(): RequestHandler {
  return helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: { ...SELF_ONLY_DIRECTIVES, styleSrc: ["'self'", "'unsafe-inline'"] },
  });
}
