// npm run config -- export [file] | import <file> | get <document> | set <document> <json>
// For operators without the dashboard (with access to Redis). Documents: webhook_config,
// processing_prefs, runtime_flags, routing_rules. Import and set validate everything before writing.
import { readFileSync, writeFileSync } from 'node:fs';
import { cliEnvSchema, loadEnv } from '@render-signal/config';
import {
  createSettingsStore,
  prepareSettingsImport,
  readImportFile,
  readSettings,
  SETTINGS_DOCUMENTS,
  type SettingsDocumentName,
} from '@render-signal/config-store';
import { createLogger } from '@render-signal/observability';
import { createRedisConnection, duplicateConnection, redisTargetOf } from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE = `usage: npm run config -- export [file] | import <file> | get <document> | set <document> '<json>'
documents: ${SETTINGS_DOCUMENTS.join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const [command, arg1, arg2] = argv;
  const isDocument = (name: string | undefined): name is SettingsDocumentName =>
    (SETTINGS_DOCUMENTS as readonly string[]).includes(name ?? '');
  if (
    !command ||
    !['export', 'import', 'get', 'set'].includes(command) ||
    (['get', 'set'].includes(command) && !isDocument(arg1)) ||
    (command === 'import' && !arg1)
  ) {
    console.error(USAGE);
    return 2;
  }
  const env = loadEnv(cliEnvSchema);
  const logger = createLogger({ level: 'warn', service: 'cli' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-cli', logger });
  const subscriber = duplicateConnection(redis, { connectionName: 'rs-cli-config' });
  subscriber.on('error', () => {});
  const store = createSettingsStore({ redis, subscriber, env, logger });
  try {
    if (command === 'export') {
      const text = `${JSON.stringify({ exported_at: new Date().toISOString(), format: 'render-signal-config/1', documents: await readSettings(store) }, null, 2)}\n`;
      if (arg1) writeFileSync(arg1, text);
      else process.stdout.write(text);
      return 0;
    }
    if (command === 'get' && isDocument(arg1)) {
      process.stdout.write(`${JSON.stringify(await store.get(arg1), null, 2)}\n`);
      return 0;
    }
    // import: our export file, or the original dashboard's render_signal_dashboard_config.json.
    const source =
      command === 'import'
        ? readImportFile(JSON.parse(readFileSync(arg1!, 'utf8')) as unknown)
        : { documents: { [arg1!]: JSON.parse(arg2 ?? 'null') as unknown }, notImported: [] };
    const documents = source.documents;
    const prepared = prepareSettingsImport(await readSettings(store), documents, { allowPrivateNetwork: env.ALLOW_PRIVATE_NETWORK });
    if (!prepared.ok) {
      console.error(`refused, nothing written: ${prepared.message}`);
      for (const error of prepared.errors) console.error(`  ${error.path}: ${error.message}`);
      return 1;
    }
    await store.putMany(prepared.values);
    console.log(`saved: ${Object.keys(prepared.values).join(', ')}`);
    for (const item of source.notImported) console.log(`  not imported: ${item.path}: ${item.reason}`);
    return 0;
  } finally {
    subscriber.disconnect();
    redis.disconnect();
  }
}

runCli('config', main);
