import express, { type Express } from 'express';
import type { AppDeps } from './app-deps';
import { errorHandler, notFound } from './http/api-error';
import { requireOperator } from './http/operator-auth';
import { securityHeaders } from './http/security-headers';
import { authRouter } from './routes/auth';
import { bullBoardRouter } from './routes/bull-board';
import { dashboardRouter } from './routes/dashboard';
import { emailsRouter } from './routes/emails';
import { magicLinksRouter } from './routes/magic-links';
import { configIoRouter } from './routes/config/config-io';
import { preferencesRouter } from './routes/config/preferences';
import { payloadPreviewRouter } from './routes/config/payload-preview';
import { routingRulesRouter } from './routes/config/routing-rules';
import { webhookConfigRouter } from './routes/config/webhooks';
import { webhookLogsRouter } from './routes/config/webhook-logs';
import { webhookToolsRouter } from './routes/config/webhook-tools';
import { gmailPubsubRouter } from './routes/gmail-pubsub';
import { healthRouter } from './routes/health';
import { targetsRouter } from './routes/targets';
import { ingressHandler, INGRESS_PATH } from './routes/ingress';

/** Builds the Express app from its dependencies; nothing is created at import time, so tests build fresh worlds. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // JSON answers are not cached by anyone: computing an ETag (a hash of every body) is wasted work per request.
  app.set('etag', false);
  // Whose X-Forwarded-For/-Proto to believe (req.ip for the login limit, req.secure for cookies): TRUST_PROXY,
  // by default nobody, so a client reaching the port directly cannot pick its own address.
  app.set('trust proxy', deps.env.TRUST_PROXY);
  // The ingress first: the hot path (hundreds of POSTs a second from a machine sender) skips the browser
  // security headers, which protect pages and the operator API, not a JSON answer to Apps Script. It sets
  // nosniff and no-store itself. A route on the app itself, not a mounted router: one router walk per POST.
  app.post(INGRESS_PATH, ingressHandler(deps));
  app.use(securityHeaders());
  app.use(healthRouter(deps));
  app.use(gmailPubsubRouter(deps));
  app.use(authRouter(deps));
  // The operator (dashboard) JSON API: the original's config endpoints, each state change validated whole.
  // Every other /api path needs an operator; the ingress above has already answered its own requests.
  app.use('/api', requireOperator(deps), express.json({ limit: '2mb' }));
  app.use(
    webhookConfigRouter(deps),
    preferencesRouter(deps),
    routingRulesRouter(deps),
    payloadPreviewRouter(deps),
    webhookLogsRouter(deps),
    configIoRouter(deps),
    webhookToolsRouter(deps),
    emailsRouter(deps),
    targetsRouter(deps),
  );
  app.use(magicLinksRouter(deps), dashboardRouter(deps), bullBoardRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
