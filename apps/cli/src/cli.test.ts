import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/helpers/test-redis';
import { startWebhookSink, type WebhookSink } from '../../../test/helpers/webhook-sink';
import { sampleEmail, startWorld, waitUntil, type World } from '../../../test/helpers/world';

const run = promisify(execFile);
const ROOT = join(new URL('.', import.meta.url).pathname, '../../..');

/** The operator CLIs as a user runs them (real processes, real Redis). */
describe('npm run config / replay', () => {
  const prefix = uniquePrefix('cli');
  const env = { PATH: process.env.PATH ?? '', REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, ALLOW_PRIVATE_NETWORK: 'true' };
  const cli = (script: string, args: string[]) =>
    run(process.execPath, ['--import', 'tsx', join(ROOT, `apps/cli/src/${script}.ts`), ...args], { env, cwd: ROOT });
  afterAll(async () => {
    await deleteKeys(testRedisUrl(), prefix);
  });

  it('sets, gets, exports and re-imports settings, refusing invalid input whole', async () => {
    await cli('config', ['set', 'processing_prefs', JSON.stringify({ retry_count: 3, exclude_keywords: ['spam'] })]);
    const got = JSON.parse((await cli('config', ['get', 'processing_prefs'])).stdout) as Record<string, unknown>;
    expect(got).toMatchObject({ retry_count: 3, exclude_keywords: ['spam'], _revision: 1 });

    const dir = mkdtempSync(join(tmpdir(), 'rs-cli-'));
    const file = join(dir, 'export.json');
    await cli('config', ['export', file]);
    const exported = JSON.parse(readFileSync(file, 'utf8')) as { documents: Record<string, Record<string, unknown>> };
    expect(exported.documents.processing_prefs).toMatchObject({ retry_count: 3 });

    exported.documents.processing_prefs!.retry_count = 99; // out of bounds
    exported.documents.runtime_flags!.gmail_ingress_enabled = false;
    writeFileSync(file, JSON.stringify(exported));
    await expect(cli('config', ['import', file])).rejects.toMatchObject({ stderr: expect.stringContaining('retry_count') });
    const flags = JSON.parse((await cli('config', ['get', 'runtime_flags'])).stdout) as Record<string, unknown>;
    expect(flags.gmail_ingress_enabled).toBe(true); // nothing half-applied

    exported.documents.processing_prefs!.retry_count = 2;
    writeFileSync(file, JSON.stringify(exported));
    expect((await cli('config', ['import', file])).stdout).toMatch(/saved: webhook_config, processing_prefs, runtime_flags, routing_rules/);
    expect(JSON.parse((await cli('config', ['get', 'runtime_flags'])).stdout)).toMatchObject({ gmail_ingress_enabled: false });
  }, 60_000);

  it('sets a rule with a template, refuses a broken one, and previews the body a target would get', async () => {
    const rule = {
      id: 'factures',
      name: 'Factures',
      conditions: [{ field: 'subject', operator: 'regex', value: 'facture\\s+(?<numero>\\d{4})' }],
      actions: { webhook_url: 'https://hook.eu2.make.com/abc', payload: { format: 'template', template: '{ "n": extracted.numero }' } },
    };
    await cli('config', ['set', 'routing_rules', JSON.stringify({ rules: [rule] })]);
    const broken = { ...rule, actions: { ...rule.actions, payload: { format: 'template', template: '{ "n": }' } } };
    await expect(cli('config', ['set', 'routing_rules', JSON.stringify({ rules: [broken] })])).rejects.toMatchObject({
      stderr: expect.stringContaining('position'),
    });
    const file = join(mkdtempSync(join(tmpdir(), 'rs-cli-')), 'email.json');
    writeFileSync(file, JSON.stringify(sampleEmail({ subject: 'Votre facture 2026' })));
    const shown = await cli('config', ['preview', '{ "n": extracted.numero, "r": rule.name }', file, 'factures']);
    expect(JSON.parse(shown.stdout)).toEqual({ n: '2026', r: 'Factures' });
    expect(JSON.parse((await cli('config', ['preview', 'flat', file])).stdout)).toMatchObject({ extracted_numero: '2026' });
    await expect(cli('config', ['preview', '{ "n": extracted.numero, }', file])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/template_syntax at position \d+/),
    });
  }, 60_000);

  it('prints usage for a bad command', async () => {
    await expect(cli('config', ['frobnicate'])).rejects.toMatchObject({ code: 2 });
  }, 30_000);
});

describe('npm run replay', () => {
  let sink: WebhookSink;
  let world: World;
  beforeAll(async () => {
    sink = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: sink.url } });
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
  });

  it('replays a dead-lettered delivery by id', async () => {
    sink.script.push({ status: 410, body: 'gone for now' });
    await world.post(sampleEmail());
    await waitUntil(async () => (await world.deliveryProducer.queue.getFailedCount()) === 1, 5_000, 'dead letter');
    const [dead] = await world.deliveryProducer.queue.getFailed();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'apps/cli/src/replay.ts'), dead!.id!], {
      env: { PATH: process.env.PATH ?? '', REDIS_URL: world.redisUrl, QUEUE_PREFIX: world.prefix },
      cwd: ROOT,
    });
    expect(stdout).toMatch(/replayed 1 job\(s\) from queue delivery/);
    const [hook] = await sink.waitFor(1);
    expect(hook!.headers['webhook-id']).toBe(dead!.id);
  }, 60_000);
});
