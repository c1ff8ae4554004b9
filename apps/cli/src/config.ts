// npm run config -- export [file] | import <file> | get <document> | set <document> <json>
//                  | preview '<JSONata template>'|flat|standard <email.json> [rule-id]
// For operators without the dashboard (with access to Redis). Documents: webhook_config,
// processing_prefs, runtime_flags, routing_rules. Import and set validate everything before writing. Preview prints the
// body a target would get for an email (ingress JSON) with the live settings, as the dashboard's « Aperçu »; nothing is sent.
import { readFileSync, writeFileSync } from 'node:fs';
import { cliEnvSchema, loadEnv, type CommonEnv } from '@render-signal/config';
import {
  createSettingsStore,
  prepareSettingsImport,
  readImportFile,
  readSettings,
  SETTINGS_DOCUMENTS,
  type Settings,
  type SettingsDocumentName,
} from '@render-signal/config-store';
import { compileTemplate, computeEmailId, ingressPayloadSchema, type PayloadSettings } from '@render-signal/contracts';
import { createPayloadRenderer, TemplateError } from '@render-signal/delivery';
import { resolveProviders } from '@render-signal/detectors';
import { previewPlanContext, previewSource } from '@render-signal/pipeline';
import { createLogger } from '@render-signal/observability';
import { createRedisConnection, duplicateConnection, redisTargetOf } from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE = `usage: npm run config -- export [file] | import <file> | get <document> | set <document> '<json>'
       npm run config -- preview '<JSONata template>'|flat|standard <email.json> [rule-id]
documents: ${SETTINGS_DOCUMENTS.join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const [command, arg1, arg2, arg3] = argv;
  const isDocument = (name: string | undefined): name is SettingsDocumentName =>
    (SETTINGS_DOCUMENTS as readonly string[]).includes(name ?? '');
  if (
    !command ||
    !['export', 'import', 'get', 'set', 'preview'].includes(command) ||
    (['get', 'set'].includes(command) && !isDocument(arg1)) ||
    (command === 'preview' && (!arg1 || !arg2)) ||
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
    if (command === 'preview') return await preview(env, await readSettings(store), arg1!, arg2!, arg3);
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

/** The body one target would get for an email: printed (exit 0), or the template's error with its position (exit 1). */
async function preview(env: CommonEnv, settings: Settings, formatOrTemplate: string, emailFile: string, ruleId?: string): Promise<number> {
  const email = ingressPayloadSchema.safeParse(JSON.parse(readFileSync(emailFile, 'utf8')) as unknown);
  if (!email.success) {
    console.error(`invalid email: ${email.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    return 1;
  }
  if (ruleId && !settings.routing_rules.rules.some((r) => r.id === ruleId)) {
    console.error(`no saved rule ${ruleId}`);
    return 1;
  }
  let format: PayloadSettings = { format: 'template', template: formatOrTemplate };
  if (formatOrTemplate === 'flat' || formatOrTemplate === 'standard') format = { format: formatOrTemplate };
  else {
    const checked = compileTemplate(formatOrTemplate);
    if (!checked.ok) {
      console.error(`${checked.code} at position ${checked.position}: ${checked.message}`);
      return 1;
    }
  }
  const context = previewPlanContext(env, resolveProviders(env.LINK_PROVIDERS), settings, new Date());
  const { source, extracted } = previewSource({ email: email.data, email_id: computeEmailId(email.data) }, context, {
    ...(ruleId ? { ruleId } : {}),
    format,
  });
  try {
    const body = await createPayloadRenderer({ timeoutMs: env.TEMPLATE_TIMEOUT_MS, maxBodyBytes: env.WEBHOOK_MAX_BODY_BYTES }).render(
      format,
      source,
    );
    process.stdout.write(`${body.toString('utf8')}\n`);
    console.error(`${body.length} bytes; extracted ${JSON.stringify(extracted)}`);
    return 0;
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    console.error(`template_error${error.position !== undefined ? ` at position ${error.position}` : ''}: ${error.message}`);
    return 1;
  }
}

runCli('config', main);
