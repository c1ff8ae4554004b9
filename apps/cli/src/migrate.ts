// npm run migrate -- --from <redis-url> [--prefix r:ss:] [--dry-run]  |  --from-dir <debug folder> [--dry-run]
// Carries a running deployment of the original Python server into this one (docs/migration.md): the four config
// documents, magic links, processed-email markers and the webhook log history. The old store is only read.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadEnv, migrateEnvSchema } from '@render-signal/config';
import { createSettingsStore } from '@render-signal/config-store';
import {
  applyMigration,
  describeRedisUrl,
  formatPlan,
  pendingCount,
  planMigration,
  readOriginalDir,
  readOriginalRedis,
  unchangedCount,
  type OriginalSnapshot,
} from '@render-signal/migration';
import { createLogger } from '@render-signal/observability';
import { createRedisConnection, duplicateConnection, redisTargetOf } from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE = `usage: npm run migrate -- --from <redis-url-of-the-old-deployment> [--prefix r:ss:] [--dry-run]
       npm run migrate -- --from-dir <the old deployment's debug/ folder> [--dry-run]
Writes into the deployment named by this environment (REDIS_URL, QUEUE_PREFIX…); the old store is only read.`;

async function readSource(args: { from?: string; fromDir?: string; prefix: string }): Promise<OriginalSnapshot> {
  if (args.fromDir) {
    if (!existsSync(args.fromDir)) throw new Error(`no such folder: ${args.fromDir}`);
    return readOriginalDir(args.fromDir);
  }
  const url = args.from!;
  // Its own plain connection: no retries forever on a wrong URL, and only read commands are ever sent.
  const old = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectionName: 'rs-migrate-source',
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  old.on('error', (error: Error) => (lastError = error));
  try {
    await old.connect();
  } catch (error) {
    throw new Error(`cannot reach the old Redis at ${describeRedisUrl(url)}: ${(lastError ?? (error as Error)).message}`);
  }
  try {
    return await readOriginalRedis(old, args.prefix, url);
  } finally {
    old.disconnect();
  }
}

async function main(argv: string[]): Promise<number> {
  let values: { from?: string; 'from-dir'?: string; prefix?: string; 'dry-run'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        'from-dir': { type: 'string' },
        prefix: { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help || Boolean(values.from) === Boolean(values['from-dir'])) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const env = loadEnv(migrateEnvSchema);
  const dryRun = values['dry-run'] === true;
  // The original's keys are `<prefix>config:…`, `<prefix>processed_email:…`: `--prefix r:ss` means `r:ss:`.
  const prefix = (values.prefix ?? 'r:ss:').replace(/([^:])$/, '$1:');
  const snapshot = await readSource({ from: values.from, fromDir: values['from-dir'], prefix });

  const logger = createLogger({ level: 'warn', service: 'migrate' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-migrate', logger });
  const subscriber = duplicateConnection(redis, { connectionName: 'rs-migrate-sub' });
  subscriber.on('error', () => {});
  const settings = createSettingsStore({ redis, subscriber, env, logger });
  const target = {
    redis,
    settings,
    env,
    description: `${env.REDIS_CLUSTER_NODES ? 'Redis Cluster' : describeRedisUrl(env.REDIS_URL ?? '')} (QUEUE_PREFIX ${env.QUEUE_PREFIX})`,
  };
  try {
    const plan = await planMigration(snapshot, target);
    console.log(formatPlan(plan, { dryRun }));
    const pending = pendingCount(plan);
    const unchanged = unchangedCount(plan);
    console.log('');
    if (pending === 0 && unchanged === 0) {
      console.log(`Nothing could be carried${plan.skipped.length ? ` (${plan.skipped.length} item(s) refused, see above)` : ''}.`);
      return 1;
    }
    if (pending === 0) {
      console.log('Nothing to change: everything was already carried by an earlier run.');
      return 0;
    }
    if (dryRun) {
      console.log(`Dry run: ${pending} item(s) would be written. Run again without --dry-run to write them.`);
      return 0;
    }
    const result = await applyMigration(plan, target);
    console.log(
      `Written: ${result.documents.length ? `config ${result.documents.join(', ')}; ` : ''}${result.magicLinks} magic link(s); ` +
        `${result.markers} processed email(s); ${result.logEntries} webhook log entr${result.logEntries === 1 ? 'y' : 'ies'}.` +
        (plan.skipped.length ? ` ${plan.skipped.length} item(s) not carried (listed above).` : ''),
    );
    if (plan.magicLinks.length > 0) {
      console.log("The original's magic links work once the API runs with the original's FLASK_SECRET_KEY as SECRET_KEY.");
    }
    return 0;
  } finally {
    subscriber.disconnect();
    redis.disconnect();
  }
}

runCli('migrate', main);
