import { Router } from 'express';
import type { AppDeps } from '../app';

/** Liveness never touches Redis (a Redis outage must not get the API restarted); readiness does. */
export function healthRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const redisOk = await Promise.race([
      deps.redis.ping().then(() => true, () => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000).unref()),
    ]);
    res.status(redisOk ? 200 : 503).json({ status: redisOk ? 'ready' : 'unavailable', services: { redis: redisOk ? 'ok' : 'down' } });
  });
  return router;
}
