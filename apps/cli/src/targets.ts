// npm run targets -- list [--json] | pause <id> | resume <id> | release <id> | discard <id>
// Destination health from a script: the targets' states (masked URLs), and the operator's actions, exactly as the
// dashboard's « Cibles » view does them (one atomic transition each, with its alert).
import { cliEnvSchema, loadEnv } from '@render-signal/config';
import { applyOperatorAction, createTargetHealthStore, listTargets, OPERATOR_ACTIONS, type OperatorAction } from '@render-signal/delivery';
import { createLogger } from '@render-signal/observability';
import { alertQueue, createProducer, createRedisConnection, redisTargetOf } from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE = [
  'usage: npm run targets -- list [--json]          every known target: state, held, success rates',
  '       npm run targets -- pause|resume|release|discard <id>',
].join('\n');

async function main(argv: string[]): Promise<number> {
  const [command, arg] = argv;
  const isAction = (OPERATOR_ACTIONS as readonly string[]).includes(command ?? '');
  if (!(command === 'list' && (arg === undefined || arg === '--json')) && !(isAction && arg && argv.length === 2)) {
    console.error(USAGE);
    return 2;
  }
  const env = loadEnv(cliEnvSchema);
  const logger = createLogger({ level: 'warn', service: 'cli' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-cli-targets', logger });
  const store = createTargetHealthStore({ redis, prefix: env.QUEUE_PREFIX });
  const alerts = createProducer(alertQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
  try {
    if (command === 'list') {
      const targets = await listTargets(store);
      if (arg === '--json') console.log(JSON.stringify(targets, null, 2));
      else if (targets.length === 0) console.log('no target has received a delivery yet');
      else
        for (const t of targets)
          console.log(
            [
              t.id,
              t.state.padEnd(10),
              `held ${t.held}`,
              `24h ${t.success_rate_24h ?? '-'}%`,
              t.target,
              t.origin ?? '',
              t.operator ? '(operator)' : '',
            ]
              .join('  ')
              .trimEnd(),
          );
      return 0;
    }
    const result = await applyOperatorAction({ store, alerts }, arg!, command as OperatorAction);
    if (result.outcome === 'not_found') {
      console.error(`unknown target id: ${arg} (npm run targets -- list)`);
      return 1;
    }
    if (result.outcome === 'not_paused') {
      console.error(`target ${arg} is ${result.record.state}: only a paused target has held deliveries to discard`);
      return 1;
    }
    if (result.alertError) console.error(`the alert could not be queued: ${result.alertError}`);
    console.log(`${command}: ${result.record.target} is ${result.record.state} (${result.held} held)`);
    return 0;
  } finally {
    await alerts.close().catch(() => {});
    redis.disconnect();
  }
}

runCli('targets', main);
