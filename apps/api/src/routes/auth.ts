import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { Cluster } from 'ioredis';
import { checkCredentials, MAGIC_LINK_FAILURE_MESSAGES, safeNextPath, type MagicLinkFailure } from '@render-signal/auth';
import { describeError } from '@render-signal/observability';
import type { AppDeps } from '../app';
import { operatorAuth } from '../http/operator-auth';

/**
 * Login pages (spec §1.3, §8): GET/POST /login (password), GET /login/magic/:token, GET/POST /logout.
 * Answers are pages: success → 303 to the dashboard (or a same-origin `next`), refusal → the login
 * page with the message and a 4xx status, rate limit → 429 page (never the original's 500).
 */

const INVALID_CREDENTIALS = 'Identifiants invalides.';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export interface LoginPageOptions {
  error?: string;
  notice?: string;
  next?: string;
  username?: string;
  /** Refusal pages (magic link) hide the form behind a link back to /login. */
  showForm?: boolean;
}

export function renderLoginPage(options: LoginPageOptions = {}): string {
  const showForm = options.showForm ?? true;
  const error = options.error ? `<p class="alert alert-error" role="alert">${escapeHtml(options.error)}</p>` : '';
  const notice = options.notice ? `<p class="alert alert-info" role="status">${escapeHtml(options.notice)}</p>` : '';
  const form = showForm
    ? `<form method="post" action="/login" class="login-form">
      <input type="hidden" name="next" value="${escapeHtml(options.next ?? '')}">
      <label for="username">Utilisateur</label>
      <input id="username" name="username" autocomplete="username" value="${escapeHtml(options.username ?? '')}" placeholder="admin">
      <label for="password">Mot de passe</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
      <button type="submit">Se connecter</button>
    </form>`
    : `<p><a class="button" href="/login">Retour à la connexion</a></p>`;
  return `<!doctype html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>Render Signal — Connexion</title>
  <link rel="stylesheet" href="/auth/login.css">
</head>
<body>
  <main class="login-card">
    <h1>Render Signal</h1>
    ${notice}${error}${form}
  </main>
</body>
</html>`;
}

/** A page that sends the browser on with a same-site navigation (see the magic-link route). */
function renderContinuePage(target: string): string {
  const href = escapeHtml(target);
  return `<!doctype html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta http-equiv="refresh" content="0;url=${href}">
  <title>Render Signal — Connexion réussie</title>
  <link rel="stylesheet" href="/auth/login.css">
</head>
<body><main class="login-card"><h1>Connexion réussie</h1><p><a class="button" href="${href}">Ouvrir le tableau de bord</a></p></main></body>
</html>`;
}

const LOGIN_CSS = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#0f172a;color:#0f172a}
.login-card{background:#fff;border-radius:12px;padding:2rem;width:min(92vw,380px);box-shadow:0 10px 30px rgba(0,0,0,.3)}
h1{margin:0 0 1.25rem;font-size:1.4rem}
.login-form{display:flex;flex-direction:column;gap:.5rem}
label{font-weight:600;font-size:.9rem}
input{padding:.6rem .7rem;border:1px solid #cbd5e1;border-radius:8px;font-size:1rem}
input:focus{outline:2px solid #2563eb;border-color:#2563eb}
button,.button{margin-top:.75rem;padding:.65rem 1rem;border:0;border-radius:8px;background:#2563eb;color:#fff;font-size:1rem;cursor:pointer;text-decoration:none;display:inline-block;text-align:center}
button:hover,.button:hover{background:#1d4ed8}
.alert{padding:.6rem .75rem;border-radius:8px;margin:0 0 1rem}
.alert-error{background:#fee2e2;color:#991b1b}
.alert-info{background:#e0f2fe;color:#075985}
`;

function sendPage(res: Response, status: number, html: string): void {
  res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
}

function wantsJson(req: Request): boolean {
  return req.accepts(['html', 'json']) === 'json';
}

/** A POST /login from another site is refused (login CSRF): browsers always send Origin on form posts. */
function isCrossSiteForm(req: Request): boolean {
  const origin = req.get('origin');
  if (!origin || origin === 'null') return req.get('sec-fetch-site') === 'cross-site';
  return origin !== `${req.protocol}://${req.get('host')}`;
}

const MAGIC_LINK_STATUS: Record<MagicLinkFailure, number> = { invalid: 401, unknown: 401, expired: 410, used: 410, revoked: 410 };

/** The login limiter: per client IP, counted in Redis so it holds across API instances; failures only. */
function loginRateLimiter(deps: AppDeps): RequestHandler {
  const redis = deps.loginRateLimitRedis ?? deps.redis;
  const prefix = `${deps.env.QUEUE_PREFIX}:auth:login-rate:`;
  // On a Redis Cluster the store's EVALSHA goes to the key's node (ioredis routes it by its key), so its
  // SCRIPT LOAD must reach every master, not a random node.
  const store =
    redis instanceof Cluster
      ? new RedisStore({
          prefix,
          sendCommandCluster: async ({ command: [name, ...args] }) =>
            name?.toUpperCase() === 'SCRIPT'
              ? ((await Promise.all(redis.nodes('master').map((node) => node.call('SCRIPT', ...args))))[0] as RedisReply)
              : (redis.call(name!, ...args) as Promise<RedisReply>),
        })
      : new RedisStore({
          prefix,
          sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
        });
  // The store loads its Lua scripts at construction; if Redis is not up yet that first load rejects and the
  // store reloads on first use. Mark those early promises handled so they cannot crash the process.
  store.incrementScriptSha.catch(() => {});
  store.getScriptSha.catch(() => {});
  const windowMs = deps.env.LOGIN_RATE_LIMIT_WINDOW;
  const limiter = rateLimit({
    windowMs,
    limit: deps.env.LOGIN_RATE_LIMIT_MAX,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // The original counted every POST; only failures count here, so an operator who logs in often is never locked out.
    skipSuccessfulRequests: true,
    store,
    handler: (req, res, _next, options) => {
      const minutes = Math.max(1, Math.ceil(windowMs / 60_000));
      const message = `Trop de tentatives de connexion. Réessayez dans ${minutes} minute${minutes > 1 ? 's' : ''}.`;
      deps.logger.warn('auth.login_rate_limited', { ip: req.ip });
      if (wantsJson(req)) {
        res.status(options.statusCode).json({ success: false, code: 'rate_limited', message });
        return;
      }
      sendPage(res, options.statusCode, renderLoginPage({ error: message, next: safeNextPath(req.body?.next, '') }));
    },
  });
  // A store failure (Redis down) must not become a 500 or an open door: answer 503.
  return (req, res, next) => {
    limiter(req, res, (error?: unknown) => {
      if (!error) return next();
      deps.logger.warn('auth.login_rate_limit_unavailable', describeError(error));
      sendPage(res, 503, renderLoginPage({ error: 'Service temporairement indisponible. Réessayez dans un instant.' }));
    });
  };
}

export function authRouter(deps: AppDeps): Router {
  const router = Router();
  const auth = operatorAuth(deps);
  if (!deps.env.TRIGGER_PAGE_PASSWORD) {
    deps.logger.warn('auth.password_login_disabled', {
      reason: 'TRIGGER_PAGE_PASSWORD is not set: every password login is refused; use `npm run magic-link` to sign in',
    });
  }

  router.get('/auth/login.css', (_req, res) => {
    res.type('css').set('Cache-Control', 'public, max-age=3600').send(LOGIN_CSS);
  });

  router.get('/login', async (req, res) => {
    try {
      if (await auth.readSession(req)) return res.redirect(303, safeNextPath(req.query.next));
    } catch {
      // Redis trouble: show the form anyway; the POST will say what is wrong.
    }
    const error = typeof req.query.error === 'string' ? req.query.error.slice(0, 200) : undefined;
    sendPage(res, 200, renderLoginPage({ error, next: safeNextPath(req.query.next, '') }));
  });

  router.post('/login', express.urlencoded({ extended: false, limit: '16kb' }), loginRateLimiter(deps), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const nextPath = safeNextPath(body.next);
    if (isCrossSiteForm(req)) {
      deps.logger.warn('auth.login_cross_site_refused', { origin: req.get('origin') ?? null });
      return sendPage(res, 403, renderLoginPage({ error: 'Requête refusée (origine inconnue).' }));
    }
    // The original's form also accepted a magic token in place of the password.
    if (typeof body.magic_token === 'string' && body.magic_token) {
      return consumeMagicLink(req, res, body.magic_token, nextPath);
    }
    const username = typeof body.username === 'string' ? body.username : undefined;
    const password = typeof body.password === 'string' ? body.password : '';
    if (!auth.credentials.password) {
      deps.logger.warn('auth.login_refused', { reason: 'TRIGGER_PAGE_PASSWORD not set', ip: req.ip });
    }
    if (!(await checkCredentials(auth.credentials, username, password))) {
      deps.logger.warn('auth.login_failed', { ip: req.ip });
      return sendPage(res, 401, renderLoginPage({ error: INVALID_CREDENTIALS, next: nextPath === '/dashboard' ? '' : nextPath, username }));
    }
    await auth.startSession(req, res, 'password');
    deps.logger.info('auth.login', { via: 'password', ip: req.ip });
    res.redirect(303, nextPath);
  });

  async function consumeMagicLink(req: Request, res: Response, token: string, nextPath: string): Promise<void> {
    let result: Awaited<ReturnType<typeof auth.magicLinks.consume>>;
    try {
      result = await auth.magicLinks.consume(token);
    } catch (error) {
      deps.logger.warn('auth.magic_link_unavailable', describeError(error));
      return sendPage(
        res,
        503,
        renderLoginPage({ error: 'Service temporairement indisponible. Réessayez dans un instant.', showForm: false }),
      );
    }
    if (!result.ok) {
      deps.logger.warn('auth.magic_link_refused', { reason: result.reason, ip: req.ip });
      return sendPage(
        res,
        MAGIC_LINK_STATUS[result.reason],
        renderLoginPage({ error: MAGIC_LINK_FAILURE_MESSAGES[result.reason], showForm: false }),
      );
    }
    await auth.startSession(req, res, 'magic_link');
    deps.logger.info('auth.login', { via: 'magic_link', magic_link_id: result.id, unlimited: result.unlimited, ip: req.ip });
    // A link clicked in a mail client is a cross-site navigation: a redirect would arrive without the new
    // SameSite=Strict cookie. A page that navigates on is same-site, so the cookie goes along.
    if (req.get('sec-fetch-site') === 'cross-site') return sendPage(res, 200, renderContinuePage(nextPath));
    res.redirect(303, nextPath);
  }

  router.get('/login/magic/:token', async (req, res) => {
    await consumeMagicLink(req, res, String(req.params.token), safeNextPath(req.query.next));
  });

  const logout: RequestHandler = async (req, res) => {
    try {
      await auth.endSession(req, res);
    } catch (error) {
      // The cookies are cleared either way; the token stays valid until it expires only if Redis was down.
      deps.logger.warn('auth.logout_revoke_failed', describeError(error));
    }
    deps.logger.info('auth.logout', {});
    res.redirect(303, '/login');
  };
  router.get('/logout', logout);
  router.post('/logout', logout);
  return router;
}
