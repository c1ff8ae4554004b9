import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import {
  boundMagicLinkId,
  createMagicLinkStore,
  createSessionRevocations,
  csrfTokensMatch,
  deriveAuthKeys,
  issueSession,
  magicLinkCredential,
  passwordCredential,
  sessionBindingHolds,
  verifySession,
  type AuthKeys,
  type Credentials,
  type MagicLinkStore,
  type SessionClaims,
  type SessionRevocations,
  withOriginalMagicLinks,
} from '@render-signal/auth';
import { describeError } from '@render-signal/observability';
import type { AppDeps } from '../app-deps';
import { ApiError } from './api-error';

/**
 * The operator (dashboard) guard. A request passes with a valid, non-revoked session cookie; a
 * state-changing one also needs the session's CSRF token in `X-CSRF-Token`. The ingress bearer token is
 * never accepted here, and the ingress never looks at these cookies.
 */

export const SESSION_COOKIE = 'rs_session';
/** Readable by the dashboard's script (double-submit): it copies the value into `X-CSRF-Token`. */
export const CSRF_COOKIE = 'rs_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What granted a new session: the password, or a magic link (its id; permanent ones stay checked). */
export type SessionGrant = { via: 'password' } | { via: 'magic_link'; linkId: string; permanent: boolean };

export interface OperatorAuth {
  keys: AuthKeys;
  credentials: Credentials;
  revocations: SessionRevocations;
  magicLinks: MagicLinkStore;
  /** Issues a session bound to its grant and sets both cookies on the response. */
  startSession(req: Request, res: Response, grant: SessionGrant): Promise<SessionClaims>;
  /**
   * The request's session if its cookie is valid, not logged out, of the current "log out every session"
   * generation and its credential still stands (throws when Redis cannot answer).
   */
  readSession(req: Request): Promise<SessionClaims | null>;
  /** Revokes the request's session (if any) and clears the cookies. */
  endSession(req: Request, res: Response): Promise<void>;
  /** Clears the session cookies on the response (nothing in Redis). */
  clearCookies(req: Request, res: Response): void;
}

/**
 * The auth context for one app. Stateless apart from Redis (keys are derived from SECRET_KEY, stores are
 * thin wrappers), so each router may build its own: no module-level cache is needed.
 */
export function operatorAuth(deps: AppDeps): OperatorAuth {
  const { env } = deps;
  const keys = deriveAuthKeys(env.SECRET_KEY);
  const revocations = createSessionRevocations({ redis: deps.redis, prefix: env.QUEUE_PREFIX });
  const magicLinks = createMagicLinkStore({
    redis: deps.redis,
    prefix: env.QUEUE_PREFIX,
    key: keys.magicLink,
    permanentMaxAgeMs: env.MAGIC_LINK_PERMANENT_MAX_AGE,
  });
  // The configured password's generation: a changed TRIGGER_PAGE_PASSWORD (at the next start) ends older sessions.
  const currentPasswordCredential =
    env.TRIGGER_PAGE_PASSWORD === undefined
      ? undefined
      : passwordCredential(keys.session, env.TRIGGER_PAGE_USER, env.TRIGGER_PAGE_PASSWORD);
  // Links issued by the original server (carried by `npm run migrate`) keep working with the same SECRET_KEY.
  const allMagicLinks = withOriginalMagicLinks(magicLinks, { redis: deps.redis, prefix: env.QUEUE_PREFIX, secret: env.SECRET_KEY });

  const cookieOptions = (req: Request): CookieOptions => ({
    sameSite: 'strict',
    path: '/',
    secure: env.COOKIE_SECURE === 'true' || (env.COOKIE_SECURE === 'auto' && req.secure),
  });

  const context: OperatorAuth = {
    keys,
    credentials: { user: env.TRIGGER_PAGE_USER, password: env.TRIGGER_PAGE_PASSWORD },
    revocations,
    magicLinks: allMagicLinks,
    async startSession(req, res, grant) {
      const cred =
        grant.via === 'password' ? (currentPasswordCredential ?? 'password:unset') : magicLinkCredential(grant.linkId, grant.permanent);
      const epoch = await revocations.currentEpoch();
      const { token, claims } = await issueSession(keys.session, {
        subject: env.TRIGGER_PAGE_USER,
        via: grant.via,
        cred,
        epoch,
        ttlMs: env.SESSION_TTL,
      });
      const base = { ...cookieOptions(req), maxAge: env.SESSION_TTL };
      res.cookie(SESSION_COOKIE, token, { ...base, httpOnly: true });
      res.cookie(CSRF_COOKIE, claims.csrf, { ...base, httpOnly: false });
      return claims;
    },
    async readSession(req) {
      const claims = await verifySession(keys.session, readCookie(req, SESSION_COOKIE));
      if (!claims) return null;
      // Checked on every request, no cache: one round trip (the commands are sent together).
      const linkId = boundMagicLinkId(claims);
      const [revoked, currentEpoch, linkActive] = await Promise.all([
        revocations.isRevoked(claims.jti),
        revocations.currentEpoch(),
        linkId === undefined ? Promise.resolve(undefined) : magicLinks.isActive(linkId),
      ]);
      const facts = {
        revoked,
        currentEpoch,
        passwordCredential: currentPasswordCredential,
        ...(linkActive === undefined ? {} : { linkActive }),
      };
      return sessionBindingHolds(claims, facts) ? claims : null;
    },
    async endSession(req, res) {
      const claims = await verifySession(keys.session, readCookie(req, SESSION_COOKIE));
      context.clearCookies(req, res);
      if (claims) await revocations.revoke(claims);
    },
    clearCookies(req, res) {
      res.clearCookie(SESSION_COOKIE, { ...cookieOptions(req), httpOnly: true });
      res.clearCookie(CSRF_COOKIE, cookieOptions(req));
    },
  };
  return context;
}

/** Reads one cookie from the Cookie header (no cookie-parser needed in front of the guard). */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

/** JSON callers (the dashboard's fetches, Bull Board's API) get 401 JSON; page loads are sent to /login. */
function wantsJson(req: Request): boolean {
  const url = req.originalUrl;
  return url.startsWith('/api/') || url === '/api' || url.startsWith('/admin/queues/api/') || req.get('x-requested-with') === 'fetch';
}

export interface OperatorGuardOptions {
  /**
   * How a state-changing request proves it comes from our own pages:
   * - `token` (default): `X-CSRF-Token` must equal the session's CSRF token (the dashboard sends it);
   * - `same-origin`: the browser's `Origin` (or `Sec-Fetch-Site`) must be this site. Used for Bull Board,
   *   whose UI cannot add our header; the SameSite=Strict cookie already keeps cross-site requests out.
   */
  csrf?: 'token' | 'same-origin';
}

/**
 * The origins this API answers as: the request's own (`protocol://host`, as TRUST_PROXY lets Express see
 * them) and PUBLIC_BASE_URL's, so a proxy that is not trusted does not break same-origin checks.
 */
export function ownOrigins(env: Pick<AppDeps['env'], 'PUBLIC_BASE_URL'>, req: Request): string[] {
  const origins = [`${req.protocol}://${req.get('host')}`];
  if (env.PUBLIC_BASE_URL) origins.push(new URL(env.PUBLIC_BASE_URL).origin);
  return origins;
}

/** A request the browser says (Sec-Fetch-Site) or shows (Origin) comes from our own pages. */
export function isSameOrigin(env: Pick<AppDeps['env'], 'PUBLIC_BASE_URL'>, req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site) return site === 'same-origin';
  const origin = req.get('origin');
  return origin !== undefined && ownOrigins(env, req).includes(origin);
}

export function operatorGuard(deps: AppDeps, options: OperatorGuardOptions = {}): RequestHandler {
  const auth = operatorAuth(deps);
  const csrfMode = options.csrf ?? 'token';
  return async (req, res, next) => {
    let claims: SessionClaims | null;
    try {
      claims = await auth.readSession(req);
    } catch (error) {
      deps.logger.warn('auth.session_check_failed', describeError(error));
      return next(new ApiError(503, 'service_unavailable', 'Service temporairement indisponible.'));
    }
    if (!claims) {
      if (wantsJson(req)) return next(new ApiError(401, 'unauthorized', 'Authentification requise.'));
      const nextPath = req.method === 'GET' ? `?next=${encodeURIComponent(req.originalUrl)}` : '';
      return res.redirect(303, `/login${nextPath}`);
    }
    if (STATE_CHANGING.has(req.method)) {
      const ok = csrfMode === 'same-origin' ? isSameOrigin(deps.env, req) : csrfTokensMatch(claims.csrf, req.get(CSRF_HEADER));
      if (!ok) {
        deps.logger.warn('auth.csrf_failed', { method: req.method, path: req.originalUrl.split('?')[0] });
        return next(new ApiError(403, 'csrf_failed', 'Jeton CSRF manquant ou invalide.'));
      }
    }
    res.locals.operator = claims;
    next();
  };
}

/** The guard the config API is mounted behind (name and signature kept for the routers that use it). */
export function requireOperator(deps: AppDeps): RequestHandler {
  return operatorGuard(deps);
}
