import { EnvError, loadEnv, weakSecretFindings, workerEnvSchema } from '@render-signal/config';
import { createLogger } from '@render-signal/observability';
import { createRedisConnection, redisTargetOf } from '@render-signal/queue';
import { startWorkers } from './worker';

/** Time past SHUTDOWN_TIMEOUT for the last Redis writes (producers, settings) before the process leaves anyway. */
const SHUTDOWN_GRACE_MS = 5_000;

async function main(): Promise<void> {
  const env = loadEnv(workerEnvSchema);
  const logger = createLogger({ level: env.LOG_LEVEL, service: 'worker' });
  for (const finding of weakSecretFindings({ SECRET_KEY: env.SECRET_KEY }))
    logger.warn('config.weak_secret', { variable: finding.variable, problem: finding.message, refused_in: 'NODE_ENV=production' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-worker', logger });
  const running = await startWorkers({ env, logger, redis });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('worker.stopping', { signal });
    // close() waits for in-flight jobs up to SHUTDOWN_TIMEOUT, then for Redis to take the last writes; with
    // Redis gone that could be forever. Past the bound the process leaves: its jobs' locks expire and
    // another worker takes them (stalled-job recovery), so nothing is lost.
    setTimeout(() => {
      logger.warn('worker.shutdown_forced', { after_ms: env.SHUTDOWN_TIMEOUT + SHUTDOWN_GRACE_MS });
      process.exit(0);
    }, env.SHUTDOWN_TIMEOUT + SHUTDOWN_GRACE_MS).unref();
    await running.close();
    redis.disconnect();
    logger.info('worker.stopped', {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof EnvError) console.error(`render-signal worker: ${error.message}`);
  else console.error('render-signal worker failed to start', error);
  process.exit(1);
});
