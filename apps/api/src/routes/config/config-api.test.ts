import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { startWebhookSink, type WebhookSink } from '../../../../../test/helpers/webhook-sink';
import { operatorRequest, sampleEmail, startWorld, type World } from '../../../../../test/helpers/world';

/** The operator config API: the original's shapes, masking, validation, revisions, import/export. */
describe('operator config API', () => {
  let sink: WebhookSink;
  let world: World;
  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => operatorRequest(world, method, path, body);
  beforeAll(async () => {
    sink = await startWebhookSink();
    world = await startWorld({ workers: true, env: { WEBHOOK_URL: sink.url } });
  });
  afterEach(() => {
    sink.received.length = 0;
    sink.requests.length = 0;
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
  });

  it('shows the webhook config with every URL masked and the env fallback', async () => {
    const res = await call('GET', '/api/webhooks/config');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      success: true,
      config: {
        webhook_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/\*\*\*$/),
        webhook_url_source: 'env',
        webhook_delivery_mode: 'json',
        absence_pause_days: [],
      },
    });
    expect(JSON.stringify(res.json)).not.toContain('/hook');
  });

  it.each([
    [{ webhook_url: 'https://example.com/hook' }, 'webhook_url ne peut pas être une URL placeholder (ex: example.com).'],
    [{ webhook_delivery_mode: 'xml' }, expect.stringContaining('webhook_delivery_mode')],
    [{ absence_pause_enabled: true, absence_pause_days: [] }, expect.stringContaining('Au moins un jour')],
    [{ absence_pause_days: ['funday'] }, expect.stringContaining('Jours invalides')],
    [{ webhook_time_start: '25:00', webhook_time_end: '10:00' }, expect.any(String)],
  ])('refuses %j with 400 and the original message', async (body, message) => {
    const res = await call('POST', '/api/webhooks/config', body);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ success: false, code: 'invalid_config', message });
  });

  it('expands a Make.com shorthand, stores it and never shows it back', async () => {
    const res = await call('POST', '/api/webhooks/config', { webhook_url: 'abc123token@hook.eu2.make.com' });
    expect(res.status).toBe(200);
    expect(res.json.config).toMatchObject({ webhook_url: 'https://hook.eu2.make.com/***', webhook_url_source: 'stored' });
    // Cleared: the env WEBHOOK_URL is the target again.
    const cleared = await call('POST', '/api/webhooks/config', { webhook_url: null });
    expect(cleared.json.config).toMatchObject({ webhook_url_source: 'env' });
  });

  it('keeps the stored URLs when the masked config is posted back, and refuses a masked URL that stands for none', async () => {
    // The env default shown masked and posted back: still the env default (nothing stored).
    const fromEnv = (await call('GET', '/api/webhooks/config')).json.config as Record<string, unknown>;
    expect((await call('POST', '/api/webhooks/config', fromEnv)).json.config).toMatchObject({ webhook_url_source: 'env' });
    const stored = `${sink.url}?failures`;
    expect((await call('POST', '/api/webhooks/config', { webhook_url: sink.url, failure_webhook_url: stored })).status).toBe(200);
    const shown = (await call('GET', '/api/webhooks/config')).json.config as Record<string, unknown>;
    expect(shown.webhook_url).toMatch(/\/\*\*\*$/);
    // The usual read-modify-write: everything back as shown, one field changed.
    const back = await call('POST', '/api/webhooks/config', { ...shown, webhook_ssl_verify: false });
    expect(back.status).toBe(200);
    const exported = (await call('GET', '/api/config/export')).json.documents as { webhook_config: Record<string, unknown> };
    expect(exported.webhook_config).toMatchObject({ webhook_ssl_verify: false });
    await world.post(sampleEmail());
    await sink.waitFor(1); // still delivered to the real stored URL, not to https://host/***
    expect(sink.received[0]!.path).toBe('/hook');
    const unknown = await call('POST', '/api/webhooks/config', { failure_webhook_url: 'https://hook.eu2.make.com/***' });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ code: 'masked_url', errors: [{ path: 'failure_webhook_url' }] });
    const rule = {
      id: 'm1',
      conditions: [{ field: 'subject', operator: 'contains', value: 'x' }],
      actions: { webhook_url: 'https://hook.eu2.make.com/***' },
    };
    const badRule = await call('POST', '/api/routing_rules', { rules: [rule] });
    expect(badRule.status).toBe(400);
    expect(badRule.json).toMatchObject({ code: 'masked_url', errors: [{ path: 'rules[0].actions.webhook_url' }] });
    await call('POST', '/api/webhooks/config', { webhook_url: null, failure_webhook_url: null, webhook_ssl_verify: true });
  });

  it('refuses a write based on a stale revision with 409', async () => {
    const { json } = await call('GET', '/api/webhooks/config');
    const revision = (json.config as { _revision: number })._revision;
    expect((await call('POST', '/api/webhooks/config', { webhook_ssl_verify: true, _revision: revision })).status).toBe(200);
    const stale = await call('POST', '/api/webhooks/config', { webhook_ssl_verify: false, _revision: revision });
    expect(stale.status).toBe(409);
    expect(stale.json.code).toBe('config_conflict');
  });

  it('reads and writes one time window through both endpoint families', async () => {
    expect((await call('POST', '/api/set_webhook_time_window', { start: '08h00', end: '18:30' })).status).toBe(200);
    expect((await call('GET', '/api/webhooks/time-window')).json).toEqual({
      success: true,
      webhooks_time_start: '08h00',
      webhooks_time_end: '18:30',
    });
    expect((await call('GET', '/api/get_webhook_time_window')).json).toMatchObject({
      webhooks_time_start: '08h00',
      timezone: 'Europe/Paris',
    });
    expect((await call('POST', '/api/webhooks/time-window', { start: '08:00' })).status).toBe(400);
    expect((await call('POST', '/api/webhooks/time-window', { start: '', end: '' })).json).toMatchObject({
      message: 'Time window cleared (no constraints).',
    });
  });

  it('validates processing prefs with the original coercions and messages', async () => {
    const saved = await call('POST', '/api/processing_prefs', { retry_count: '3', exclude_keywords: [' spam ', ''] });
    expect(saved.status).toBe(200);
    expect(saved.json).toMatchObject({ message: 'Préférences mises à jour.', prefs: { retry_count: 3, exclude_keywords: ['spam'] } });
    const bad = await call('POST', '/api/update_processing_prefs', { retry_count: 11 });
    expect(bad.status).toBe(400);
    expect((await call('GET', '/api/get_processing_prefs')).json).toMatchObject({ prefs: { retry_count: 3 } });
    await call('POST', '/api/processing_prefs', { retry_count: 0, exclude_keywords: [] });
  });

  it('stores routing rules whole, masks their URLs, and keeps a masked URL sent back', async () => {
    const rule = {
      id: 'r1',
      name: 'R1',
      conditions: [{ field: 'subject', operator: 'contains', value: 'x' }],
      actions: { webhook_url: sink.url, priority: 'normal', stop_processing: false },
    };
    const saved = await call('POST', '/api/routing_rules', { rules: [rule] });
    expect(saved.status).toBe(200);
    const shown = (saved.json.config as { rules: Array<{ actions: { webhook_url: string } }> }).rules[0]!;
    expect(shown.actions.webhook_url).toMatch(/\/\*\*\*$/);
    // Sent back masked (as the dashboard does): the stored URL stays.
    expect((await call('POST', '/api/routing_rules', { rules: [{ ...rule, name: 'renamed', actions: shown.actions }] })).status).toBe(200);
    const dry = await call('POST', '/api/routing_rules/test', { email: sampleEmail({ subject: 'x marks' }) });
    // No stop_processing: the rule's target and the default both get it (one URL, so once).
    expect((dry.json.deliveries as Array<{ origin: string; target: string }>).map((d) => d.origin)).toEqual(['rule:r1']);
    const invalid = await call('POST', '/api/routing_rules', {
      rules: [rule, { ...rule, id: 'r2', conditions: [{ field: 'subject', operator: 'regex', value: '(' }] }],
    });
    expect(invalid.status).toBe(400);
    expect(invalid.json).toMatchObject({
      message: 'Expression régulière invalide.',
      errors: [expect.objectContaining({ path: 'rules[1].conditions[0].value' })],
    });
    await call('POST', '/api/routing_rules', { rules: [] });
  });

  it('dry-runs the original test webhook without sending, and sends for real when asked', async () => {
    const dry = await call('POST', '/api/test/send_test_webhook', {
      subject: 'Essai',
      delivery_links: [{ provider: 'dropbox', raw_url: 'https://www.dropbox.com/s/x/y.zip' }],
    });
    expect(dry.json).toMatchObject({
      success: true,
      dry_run: true,
      message: 'Dry-run: aucun envoi effectué.',
      target_masked: expect.stringMatching(/\/\*\*\*$/),
      delivery_mode_sequence: ['json', 'form'],
      payload: { microsoft_graph_email_id: 'test-webhook', subject: 'Essai' },
    });
    expect(JSON.parse(dry.json.serialized_payload as string)).toEqual(dry.json.payload);
    expect(sink.requests).toHaveLength(0);
    const real = await call('POST', '/api/test/send_test_webhook', { dry_run: false, subject: 'Essai réel' });
    expect(real.json).toMatchObject({
      success: true,
      dry_run: false,
      message: 'Webhook envoyé.',
      flow_result: { success: true, status_code: 200 },
    });
    expect(sink.received.map((r) => r.json!.subject)).toEqual(['Essai réel']);
  });

  it('rotates the signing secret: the new secret is shown once and signs the next webhooks', async () => {
    const rotated = await call('POST', '/api/webhooks/secret/rotate');
    const secret = rotated.json.secret as string;
    expect(secret).toMatch(/^whsec_/);
    await new Promise((r) => setTimeout(r, 2_100)); // workers re-read the secret at most every 2 s
    await world.post(sampleEmail());
    const [hook] = await sink.waitFor(1);
    const headers = {
      'webhook-id': String(hook!.headers['webhook-id']),
      'webhook-timestamp': String(hook!.headers['webhook-timestamp']),
      'webhook-signature': String(hook!.headers['webhook-signature']),
    };
    expect(() => new Webhook(secret).verify(hook!.body, headers)).not.toThrow();
    expect(JSON.stringify((await call('GET', '/api/webhooks/config')).json)).not.toContain(secret);
  });

  it('exports masked and imports all or nothing', async () => {
    const exported = await call('GET', '/api/config/export');
    const documents = exported.json.documents as Record<string, Record<string, unknown>>;
    expect(Object.keys(documents).sort()).toEqual(['processing_prefs', 'routing_rules', 'runtime_flags', 'webhook_config']);
    const broken = {
      ...documents,
      processing_prefs: { ...documents.processing_prefs, rate_limit_per_hour: -1 },
      runtime_flags: { ...documents.runtime_flags, gmail_ingress_enabled: false },
    };
    expect((await call('POST', '/api/config/import', { documents: broken })).status).toBe(400);
    expect((await call('GET', '/api/get_runtime_flags')).json).toMatchObject({ flags: { gmail_ingress_enabled: true } });
    const fine = { ...documents, runtime_flags: { ...documents.runtime_flags, allow_custom_webhook_without_links: true } };
    expect((await call('POST', '/api/config/import', { documents: fine })).json).toMatchObject({
      success: true,
      imported: expect.arrayContaining(['runtime_flags']),
    });
    expect((await call('GET', '/api/get_runtime_flags')).json).toMatchObject({ flags: { allow_custom_webhook_without_links: true } });
    await call('POST', '/api/update_runtime_flags', { allow_custom_webhook_without_links: false });
  });
});
