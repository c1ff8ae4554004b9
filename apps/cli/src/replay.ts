// npm run replay -- <job-id> [<job-id>…] | --all-failed [--queue delivery|email|gmail]
// Moves dead-lettered jobs back to waiting with a fresh attempt budget (same job id, same webhook-id).
import { cliEnvSchema, loadEnv } from '@render-signal/config';
import { createLogger } from '@render-signal/observability';
import { createProducer, createRedisConnection, QUEUE_CATALOG, redisTargetOf, replayFailedJobs } from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE = 'usage: npm run replay -- <job-id>… | --all-failed [--queue delivery|email|gmail]';

async function main(argv: string[]): Promise<number> {
  const queueFlag = argv.indexOf('--queue');
  const queueName = queueFlag >= 0 ? argv[queueFlag + 1] : 'delivery';
  const rest = queueFlag >= 0 ? argv.filter((_, i) => i !== queueFlag && i !== queueFlag + 1) : argv;
  const all = rest.includes('--all-failed');
  const ids = rest.filter((a) => !a.startsWith('--'));
  const definition = QUEUE_CATALOG.find((q) => q.name === queueName);
  if (!definition || (!all && ids.length === 0)) {
    console.error(USAGE);
    return 2;
  }
  const env = loadEnv(cliEnvSchema);
  const logger = createLogger({ level: 'warn', service: 'cli' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-cli', logger });
  const producer = createProducer(definition, { connection: redis, prefix: env.QUEUE_PREFIX });
  try {
    const count = await replayFailedJobs(producer.queue, all ? { all: true } : { ids });
    console.log(`replayed ${count} job(s) from queue ${definition.name}`);
    return 0;
  } finally {
    await producer.close();
    redis.disconnect();
  }
}

runCli('replay', main);
