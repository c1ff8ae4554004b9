import { apiEnvSchema, EnvError, loadEnv } from '@render-signal/config';
import { createLogger } from '@render-signal/observability';
import { createProducer, createRedisConnection, emailQueue } from '@render-signal/queue';
import { createApp } from './app';

async function main(): Promise<void> {
  const env = loadEnv(apiEnvSchema);
  const logger = createLogger({ level: env.LOG_LEVEL, service: 'api' });
  const redis = createRedisConnection({ url: env.REDIS_URL, profile: 'producer', name: 'rs-api', logger });
  const emailProducer = createProducer(emailQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
  const app = createApp({ env, logger, redis, emailProducer });
  const server = app.listen(env.PORT, () => logger.info('api.started', { port: env.PORT, queue_prefix: env.QUEUE_PREFIX }));
  // Longer than typical proxy idle timeouts so the proxy, not us, closes idle keep-alive connections.
  server.keepAliveTimeout = 75_000;

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('api.stopping', { signal });
    server.close(async () => {
      await emailProducer.close().catch(() => {});
      redis.disconnect();
      logger.info('api.stopped', {});
      process.exit(0);
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
