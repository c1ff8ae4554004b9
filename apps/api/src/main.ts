import { apiEnvSchema, EnvError, isProduction, loadEnv, weakSecretFindings } from '@render-signal/config';
import { createLogger } from '@render-signal/observability';
import { createRedisConnection, redisTargetOf } from '@render-signal/queue';
import { createApp } from './app';
import { buildApiDeps } from './deps';

async function main(): Promise<void> {
  const env = loadEnv(apiEnvSchema);
  const logger = createLogger({ level: env.LOG_LEVEL, service: 'api' });
  // Production refused these at parse time; elsewhere they start, with a warning that says how to fix them.
  for (const finding of weakSecretFindings(env))
    logger.warn('config.weak_secret', { variable: finding.variable, problem: finding.message, refused_in: 'NODE_ENV=production' });
  if (isProduction(env) && !env.METRICS_TOKEN && !env.METRICS_PUBLIC)
    logger.info('metrics.closed', {
      reason: 'METRICS_TOKEN is not set: /metrics answers 401 (set it, or METRICS_PUBLIC=true on a private network)',
    });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'producer', name: 'rs-api', logger });
  const resources = buildApiDeps(env, logger, redis);
  // Config changes arrive by pub/sub; if Redis is down at boot the subscription retries by itself.
  resources.start().catch((error: Error) => logger.warn('config.subscribe_failed', { error: error.message }));
  // The login rate limiter gets its own fail-fast connection: a Redis outage answers 503, never a hang.
  const loginRateLimitRedis = createRedisConnection({ ...redisTargetOf(env), profile: 'producer', name: 'rs-api-login-limit', logger });
  const app = createApp({ ...resources.deps, loginRateLimitRedis });
  const server = app.listen(env.PORT, () => logger.info('api.started', { port: env.PORT, queue_prefix: env.QUEUE_PREFIX }));
  // Longer than typical proxy idle timeouts so the proxy, not us, closes idle keep-alive connections.
  server.keepAliveTimeout = 75_000;

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('api.stopping', { signal });
    server.close(() => {
      void resources
        .close()
        .catch(() => {})
        .finally(() => {
          redis.disconnect();
          loginRateLimitRedis.disconnect();
          logger.info('api.stopped', {});
          process.exit(0);
        });
    });
    server.closeIdleConnections();
    // In-flight requests are short (one Redis round trip); do not wait forever on a stuck client.
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof EnvError) {
    console.error(`render-signal api: ${error.message}`);
  } else {
    console.error('render-signal api failed to start', error);
  }
  process.exit(1);
});
