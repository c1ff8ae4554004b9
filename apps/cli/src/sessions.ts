// npm run sessions -- revoke-all
// "Log out every session": every dashboard session made so far stops working on its next request (all
// API instances: the generation lives in Redis). Operators log in again with the password or a magic link.
import { createSessionRevocations } from '@render-signal/auth';
import { cliEnvSchema, loadEnv } from '@render-signal/config';
import { createLogger } from '@render-signal/observability';
import { createRedisConnection, redisTargetOf } from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE = 'usage: npm run sessions -- revoke-all    (log out every dashboard session)';

async function main(argv: string[]): Promise<number> {
  if (argv.length !== 1 || argv[0] !== 'revoke-all') {
    console.error(USAGE);
    return 2;
  }
  const env = loadEnv(cliEnvSchema);
  const logger = createLogger({ level: 'warn', service: 'cli' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-cli-sessions', logger });
  try {
    const epoch = await createSessionRevocations({ redis, prefix: env.QUEUE_PREFIX }).revokeAll();
    console.log(`every dashboard session is logged out (session generation ${epoch})`);
    return 0;
  } finally {
    redis.disconnect();
  }
}

runCli('sessions', main);
