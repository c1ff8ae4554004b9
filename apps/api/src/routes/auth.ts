import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { Cluster } from 'ioredis';
import { checkCredentials, csrfTokensMatch, MAGIC_LINK_FAILURE_MESSAGES, safeNextPath, type MagicLinkFailure } from '@render-signal/auth';
import { describeError } from '@render-signal/observability';
import type { AppDeps } from '../app-deps';
import { CSRF_HEADER, isSameOrigin, operatorAuth, ownOrigins } from '../http/operator-auth';

/**
 * Login pages (docs/original-behaviour.md, "Dashboard endpoints" and "Magic links"): GET/POST /login (password),
 * GET /login/magic/:token, GET/POST /logout.
 * Answers are pages: success → 303 to the dashboard (or a same-origin `next`), refusal → the login
 * page with the message and a 4xx status, rate limit → 429 page (never the original's 500).
 * Logout is a same-origin POST only; GET /logout (old bookmarks, the original's link) shows a button.
 */

const INVALID_CREDENTIALS = 'Identifiants invalides.';
const UNAVAILABLE = 'Service temporairement indisponible. Réessayez dans un instant.';

/**
 * `/login?error=<code>`: only these codes print a message, and only these fixed texts. Anything else in
 * the query (the original put free text there) shows nothing: the page never echoes attacker-chosen text.
 */
export const LOGIN_ERROR_MESSAGES: Readonly<Record<string, string>> = {
  invalid_credentials: INVALID_CREDENTIALS,
  session_expired: 'Session expirée. Reconnectez-vous.',
  sessions_revoked: 'Toutes les sessions ont été fermées. Reconnectez-vous.',
  rate_limited: 'Trop de tentatives de connexion. Réessayez plus tard.',
  unavailable: UNAVAILABLE,
  ...Object.fromEntries(Object.entries(MAGIC_LINK_FAILURE_MESSAGES).map(([reason, message]) => [`magic_link_${reason}`, message])),
};

/** The fixed message of a known code; undefined (nothing shown) for anything else. */
export function loginErrorMessage(code: unknown): string | undefined {
  return typeof code === 'string' && Object.hasOwn(LOGIN_ERROR_MESSAGES, code) ? LOGIN_ERROR_MESSAGES[code] : undefined;
}

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

/** GET /logout: a button that posts the logout from our own page (a cross-site GET can no longer log out). */
function renderLogoutPage(csrf: string | undefined): string {
  return `<!doctype html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>Render Signal — Déconnexion</title>
  <link rel="stylesheet" href="/auth/login.css">
</head>
<body>
  <main class="login-card">
    <h1>Render Signal</h1>
    <p>Se déconnecter de Render Signal ?</p>
    <form method="post" action="/logout" class="login-form">
      <input type="hidden" name="csrf_token" value="${escapeHtml(csrf ?? '')}">
      <button type="submit">Se déconnecter</button>
    </form>
    <p><a href="/dashboard">Retour au tableau de bord</a></p>
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
function isCrossSiteForm(deps: Pick<AppDeps, 'env'>, req: Request): boolean {
  const origin = req.get('origin');
  if (!origin || origin === 'null') return req.get('sec-fetch-site') === 'cross-site';
  return !ownOrigins(deps.env, req).includes(origin);
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
    // Reported below as one structured line instead of the library's console error.
    validate: { xForwardedForHeader: false },
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
  // X-Forwarded-For on a request while no proxy is trusted: either a client making addresses up (ignored,
  // as it should be) or a proxy in front that TRUST_PROXY does not name (then every client shares its address).
  let forwardedWarned = deps.env.TRUST_PROXY !== false;
  // A store failure (Redis down) must not become a 500 or an open door: answer 503.
  return (req, res, next) => {
    if (!forwardedWarned && req.headers['x-forwarded-for'] !== undefined) {
      forwardedWarned = true;
      deps.logger.warn('auth.forwarded_for_ignored', {
        ip: req.ip,
        hint: 'X-Forwarded-For is ignored because TRUST_PROXY=false; if a proxy sits in front, set TRUST_PROXY to it (docs/security.md)',
      });
    }
    limiter(req, res, (error?: unknown) => {
      if (!error) return next();
      deps.logger.warn('auth.login_rate_limit_unavailable', describeError(error));
      sendPage(res, 503, renderLoginPage({ error: UNAVAILABLE }));
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
    const error = loginErrorMessage(req.query.error);
    sendPage(res, 200, renderLoginPage({ ...(error ? { error } : {}), next: safeNextPath(req.query.next, '') }));
  });

  router.post('/login', express.urlencoded({ extended: false, limit: '16kb' }), loginRateLimiter(deps), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const nextPath = safeNextPath(body.next);
    if (isCrossSiteForm(deps, req)) {
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
    await auth.startSession(req, res, { via: 'password' });
    deps.logger.info('auth.login', { via: 'password', ip: req.ip });
    res.redirect(303, nextPath);
  });

  async function consumeMagicLink(req: Request, res: Response, token: string, nextPath: string): Promise<void> {
    let result: Awaited<ReturnType<typeof auth.magicLinks.consume>>;
    try {
      result = await auth.magicLinks.consume(token);
    } catch (error) {
      deps.logger.warn('auth.magic_link_unavailable', describeError(error));
      return sendPage(res, 503, renderLoginPage({ error: UNAVAILABLE, showForm: false }));
    }
    if (!result.ok) {
      deps.logger.warn('auth.magic_link_refused', { reason: result.reason, ip: req.ip });
      return sendPage(
        res,
        MAGIC_LINK_STATUS[result.reason],
        renderLoginPage({ error: MAGIC_LINK_FAILURE_MESSAGES[result.reason], showForm: false }),
      );
    }
    await auth.startSession(req, res, { via: 'magic_link', linkId: result.id, permanent: result.unlimited });
    deps.logger.info('auth.login', { via: 'magic_link', magic_link_id: result.id, unlimited: result.unlimited, ip: req.ip });
    // A link clicked in a mail client is a cross-site navigation: a redirect would arrive without the new
    // SameSite=Strict cookie. A page that navigates on is same-site, so the cookie goes along.
    if (req.get('sec-fetch-site') === 'cross-site') return sendPage(res, 200, renderContinuePage(nextPath));
    res.redirect(303, nextPath);
  }

  router.get('/login/magic/:token', async (req, res) => {
    await consumeMagicLink(req, res, String(req.params.token), safeNextPath(req.query.next));
  });

  // GET never logs out (a link or image on another site could): it shows a button that posts from here.
  router.get('/logout', async (req, res) => {
    let csrf: string | undefined;
    try {
      csrf = (await auth.readSession(req))?.csrf;
    } catch {
      // Redis trouble: the page still posts; POST clears the cookies either way.
    }
    sendPage(res, 200, renderLogoutPage(csrf));
  });

  // POST logs out when it comes from our own pages: same origin (Origin / Sec-Fetch-Site), or the
  // session's CSRF token (form field `csrf_token` or the X-CSRF-Token header) for clients without Origin.
  router.post('/logout', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const presented = typeof body.csrf_token === 'string' ? body.csrf_token : req.get(CSRF_HEADER);
    let allowed = isSameOrigin(deps.env, req);
    if (!allowed && presented) {
      try {
        allowed = csrfTokensMatch((await auth.readSession(req))?.csrf, presented);
      } catch {
        allowed = false;
      }
    }
    if (!allowed) {
      deps.logger.warn('auth.logout_cross_site_refused', { origin: req.get('origin') ?? null, site: req.get('sec-fetch-site') ?? null });
      return sendPage(res, 403, renderLoginPage({ error: 'Requête refusée (origine inconnue).', showForm: false }));
    }
    try {
      await auth.endSession(req, res);
    } catch (error) {
      // The cookies are cleared either way; the token stays valid until it expires only if Redis was down.
      deps.logger.warn('auth.logout_revoke_failed', describeError(error));
    }
    deps.logger.info('auth.logout', {});
    res.redirect(303, '/login');
  });
  return router;
}
