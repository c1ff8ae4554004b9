import { Router, type Request } from 'express';
import { isProduction } from '@render-signal/config';
import type { AppDeps } from '../app-deps';
import { ApiError } from '../http/api-error';
import { operatorAuth } from '../http/operator-auth';

/**
 * Operator endpoints around the session and magic links (mounted behind requireOperator and the JSON parser):
 * - GET /api/auth/session: who is logged in, and the CSRF token for the dashboard's fetches;
 * - POST /api/auth/magic-link `{unlimited}` → 201 `{success, magic_link, expires_at, unlimited}` (the original's shape, plus `id`);
 * - GET /api/auth/magic-links: the permanent (unlimited) links; DELETE /api/auth/magic-links/:id revokes one
 *   (and ends the sessions it opened);
 * - POST /api/auth/sessions/revoke-all: "log out every session" (this one included).
 */

/**
 * The origin written in magic links. In production only PUBLIC_BASE_URL: the Host header is the
 * client's to choose, and a link pointing at a host an attacker picked would hand them the token.
 */
export function publicOrigin(deps: Pick<AppDeps, 'env'>, req: Request): string {
  if (deps.env.PUBLIC_BASE_URL) return deps.env.PUBLIC_BASE_URL.replace(/\/$/, '');
  if (isProduction(deps.env))
    throw new ApiError(
      409,
      'public_base_url_required',
      "PUBLIC_BASE_URL n'est pas défini : en production, les liens de connexion ne sont créés qu'avec cette origine (ex. https://signal.example.com).",
    );
  return `${req.protocol}://${req.get('host')}`;
}

export function magicLinksRouter(deps: AppDeps): Router {
  const router = Router();
  const auth = operatorAuth(deps);

  router.get('/api/auth/session', (_req, res) => {
    const claims = res.locals.operator as { sub: string; via: string; exp: number; csrf: string } | undefined;
    if (!claims) throw new ApiError(401, 'unauthorized', 'Authentification requise.');
    res.set('Cache-Control', 'no-store').json({
      success: true,
      user: claims.sub,
      via: claims.via,
      expires_at: new Date(claims.exp * 1000).toISOString(),
      csrf_token: claims.csrf,
    });
  });

  router.post('/api/auth/magic-link', async (req, res) => {
    const body = (req.body ?? {}) as { unlimited?: unknown; label?: unknown };
    const unlimited = body.unlimited === true || body.unlimited === 'true';
    const label = typeof body.label === 'string' && body.label.trim() ? body.label.trim().slice(0, 100) : undefined;
    const origin = publicOrigin(deps, req); // before issuing: a refused request leaves no link behind
    const link = await auth.magicLinks.issue({ unlimited, ttlSeconds: deps.env.MAGIC_LINK_TTL_SECONDS, ...(label ? { label } : {}) });
    deps.logger.info('auth.magic_link_issued', { magic_link_id: link.id, unlimited, via: 'dashboard' });
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .json({
        success: true,
        magic_link: `${origin}/login/magic/${link.token}`,
        expires_at: link.expiresAt ? link.expiresAt.toISOString() : null,
        unlimited,
        id: link.id,
      });
  });

  router.get('/api/auth/magic-links', async (_req, res) => {
    const links = await auth.magicLinks.listPermanent();
    res.json({ success: true, links, count: links.length });
  });

  router.delete('/api/auth/magic-links/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!(await auth.magicLinks.revoke(id))) throw new ApiError(404, 'not_found', 'Lien permanent inconnu.');
    deps.logger.info('auth.magic_link_revoked', { magic_link_id: id });
    res.json({ success: true, revoked: true, id });
  });

  router.post('/api/auth/sessions/revoke-all', async (req, res) => {
    const epoch = await auth.revocations.revokeAll();
    auth.clearCookies(req, res);
    deps.logger.warn('auth.sessions_revoked_all', { epoch, via: 'dashboard' });
    res.set('Cache-Control', 'no-store').json({ success: true, revoked: true, message: 'Toutes les sessions ont été fermées.' });
  });
  return router;
}
