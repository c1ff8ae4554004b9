import { EnvError, loadEnv, workerEnvSchema } from '@render-signal/config';
import { createLogger } from '@render-signal/observability';
import { createRedisConnection } from '@render-signal/queue';
import { startWorkers } from './worker';

async function main(): Promise<void> {
  const env = loadEnv(workerEnvSchema);
  const logger = createLogger({ level: env.LOG_LEVEL, service: 'worker' });
  const redis = createRedisConnection({ url: env.REDIS_URL, profile: 'worker', name: 'rs-worker', logger });
  const running = await startWorkers({ env, logger, redis });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('worker.stopping', { signal });
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
