import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { ApiEnv } from '@render-signal/config';
import type { Logger } from '@render-signal/observability';
import type { Producer, emailQueue } from '@render-signal/queue';
import { errorHandler, notFound } from './http/api-error';
import { healthRouter } from './routes/health';
import { ingressRouter } from './routes/ingress';

export interface AppDeps {
  env: ApiEnv;
  logger: Logger;
  /** Producer-profile connection (fails fast, so the ingress can answer 503). */
  redis: Redis;
  emailProducer: Producer<typeof emailQueue>;
}

/** Builds the Express app from its dependencies; nothing is created at import time, so tests build fresh worlds. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Render (and most PaaS) terminate TLS in one proxy hop: trust it for req.ip / req.secure.
  app.set('trust proxy', 1);
  app.use(healthRouter(deps));
  app.use(ingressRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
