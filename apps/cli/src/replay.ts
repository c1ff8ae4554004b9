// npm run replay -- <job-id> [<job-id>…] | --all-failed [--queue delivery|email|gmail]
//   Moves dead-lettered jobs back to waiting with a fresh attempt budget (same job id, same webhook-id).
// npm run replay -- --status dead_lettered --target <url|tgt_id> --since <iso> --until <iso> [--rule <id|name>]
//                   [--query <words>] [--payload original|current] [--rate 10] [--dry-run] [--yes]
//   Bulk replay: prints the preview, asks on a terminal, then follows the replay with a progress bar (Ctrl-C cancels it).
import { createInterface } from 'node:readline/promises';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { cliEnvSchema, loadEnv } from '@render-signal/config';
import { createSettingsStore } from '@render-signal/config-store';
import { replayRequestSchema } from '@render-signal/contracts';
import { previewReplay, replayView, resolveReplayRequest, startReplay, type ReplayPreview } from '@render-signal/journeys';
import { createLogger } from '@render-signal/observability';
import {
  createProducer,
  createRedisConnection,
  createReplayStore,
  duplicateConnection,
  QUEUE_CATALOG,
  redisTargetOf,
  replayFailedJobs,
  replayQueue,
} from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE = [
  'usage: npm run replay -- <job-id>… | --all-failed [--queue delivery|email|gmail]',
  '       npm run replay -- --status dead_lettered|failed_attempts|delivered|any [--target <url|tgt_id>] [--rule <id|name>]',
  '                         [--since <iso>] [--until <iso>] [--query <words>] [--payload original|current] [--rate <per s>]',
  '                         [--dry-run] [--yes]',
].join('\n');

const BULK_FLAGS = ['--status', '--target', '--rule', '--since', '--until', '--query', '--payload', '--rate', '--dry-run'];

async function main(argv: string[]): Promise<number> {
  if (argv.some((a) => BULK_FLAGS.includes(a.split('=')[0]!))) return bulkReplay(argv);
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

function printPreview(preview: ReplayPreview): void {
  console.log(`${preview.count} delivery(ies) of ${preview.emails} email(s) selected`);
  for (const t of preview.per_target) console.log(`  ${String(t.count).padStart(7)}  ${t.target} (${t.target_id || 'no target id'})`);
  if (preview.sample.length) console.log('first ones:');
  for (const s of preview.sample) console.log(`  ${s.received_at}  ${s.email_id}  ${s.target}  ${s.subject.slice(0, 60)}`);
  const n = preview.notes;
  console.log(
    `journeys are kept ${n.journeys_kept_days} days (at most ${n.journeys_max_entries}), oldest kept: ${n.oldest_journey_at ?? 'none'}; ` +
      `dead letters kept: ${n.dead_letters_kept}, of which at least ${n.dead_letters_outside_journeys} older than every kept journey (not selectable)`,
  );
}

function bar(done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^(y|yes|o|oui)$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function bulkReplay(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        status: { type: 'string', default: 'dead_lettered' },
        target: { type: 'string' },
        rule: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        query: { type: 'string' },
        payload: { type: 'string', default: 'original' },
        rate: { type: 'string', default: '10' },
        'dry-run': { type: 'boolean', default: false },
        yes: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const request = replayRequestSchema.safeParse({
    filter: {
      status: values.status,
      ...(values.target ? { target: values.target } : {}),
      ...(values.rule ? { rule: values.rule } : {}),
      ...(values.since ? { since: values.since } : {}),
      ...(values.until ? { until: values.until } : {}),
      ...(values.query ? { query: values.query } : {}),
    },
    payload: values.payload,
    rate_per_s: Number(values.rate),
    dry_run: values['dry-run'],
  });
  if (!request.success) {
    console.error(`${request.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n${USAGE}`);
    return 2;
  }
  const env = loadEnv(cliEnvSchema);
  const logger = createLogger({ level: 'warn', service: 'cli' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-cli-replay', logger });
  const subscriber = duplicateConnection(redis, { connectionName: 'rs-cli-replay-config' });
  subscriber.on('error', () => {});
  const settings = createSettingsStore({ redis, subscriber, env, logger });
  const producer = createProducer(replayQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
  const store = createReplayStore({ redis, prefix: env.QUEUE_PREFIX });
  try {
    const { rules } = await settings.get('routing_rules');
    const resolved = resolveReplayRequest(request.data, { rules: rules ?? [], maxRatePerS: env.REPLAY_MAX_RATE_PER_S });
    if (!resolved.ok) {
      console.error(`refused (${resolved.code}): ${resolved.message}`);
      return 2;
    }
    const context = {
      redis,
      prefix: env.QUEUE_PREFIX,
      retention: { journeyMaxAgeDays: env.JOURNEY_MAX_AGE_DAYS, journeyMaxEntries: env.JOURNEY_MAX_ENTRIES },
    };
    const preview = await previewReplay(context, resolved.filter);
    printPreview(preview);
    if (request.data.dry_run || preview.count === 0) return 0;
    if (!values.yes) {
      if (!process.stdin.isTTY) {
        console.error('not a terminal: pass --yes to start the replay');
        return 2;
      }
      if (!(await confirm(`send these ${preview.count} again at ${request.data.rate_per_s}/s? [y/N] `))) return 1;
    }
    const record = await startReplay(
      { ...context, store, enqueueRun: async (id) => void (await producer.add('run', { replay_id: id }, { jobId: `replay.${id}` })) },
      { request: request.data, filter: resolved.filter, who: `cli:${userInfo().username}`, now: Date.now() },
    );
    console.log(`replay ${record.id} started: ${record.total} delivery(ies)`);
    let interrupted = false;
    const onSigint = () => {
      interrupted = true;
      void store.end(record.id, 'cancelled', Date.now());
    };
    process.on('SIGINT', onSigint);
    const tty = process.stdout.isTTY;
    for (;;) {
      const current = await store.get(record.id);
      if (!current) throw new Error(`replay ${record.id} disappeared`);
      const view = replayView(current);
      const line = `${bar(view.total - view.remaining, view.total)} sent ${view.sent}/${view.total}, delivered ${view.delivered}, failed ${view.failed}, skipped ${view.skipped} (${view.state})`;
      if (tty) process.stdout.write(`\r${line}`);
      if (view.state !== 'running') {
        console.log(tty ? '' : line);
        console.log(`replay ${record.id} ${view.state}${interrupted ? ' (Ctrl-C)' : ''}`);
        process.off('SIGINT', onSigint);
        return view.state === 'done' ? 0 : 1;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await producer.close().catch(() => {});
    subscriber.disconnect();
    redis.disconnect();
  }
}

runCli('replay', main);
