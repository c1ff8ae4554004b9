import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { operatorRequest, sampleEmail, startWorld, waitUntil, type World } from '../../../../../test/helpers/world';
import { startWebhookSink, type WebhookSink } from '../../../../../test/helpers/webhook-sink';

const TEMPLATE = '{ "numero": extracted.numero, "client": sender_email, "lien": delivery_links[0].raw_url, "cle": idempotency_key }';
const factureRule = (url: string, payload?: unknown) => ({
  id: 'factures',
  name: 'Factures',
  conditions: [{ field: 'subject', operator: 'regex', value: 'facture\\s+(?<numero>\\d{4})' }],
  extract: [{ field: 'sender', regex: '@(?<domaine>[a-z.]+)$' }],
  actions: { webhook_url: url, ...(payload ? { payload } : {}) },
});

/** Payload formats through the operator API: validation when saving, the dry run's bodies, the preview. */
describe('payload formats: API', () => {
  let sink: WebhookSink;
  let world: World;
  const call = (method: 'GET' | 'POST', path: string, body?: unknown) => operatorRequest(world, method, path, body);
  beforeAll(async () => {
    sink = await startWebhookSink();
    world = await startWorld({ workers: true, env: { WEBHOOK_URL: sink.url } });
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
  });

  it.each<[string, unknown, string, string]>([
    [
      'a template syntax error',
      [factureRule('https://hook.eu2.make.com/a', { format: 'template', template: '{ "a": foo. }' })],
      'rules[0].actions.payload.template',
      'template_syntax',
    ],
    [
      'a template over 10 KB',
      [factureRule('https://hook.eu2.make.com/a', { format: 'template', template: `"${'x'.repeat(10_300)}"` })],
      'rules[0].actions.payload.template',
      'template_too_large',
    ],
    [
      'an extract name that is not an identifier',
      [{ ...factureRule('https://hook.eu2.make.com/a'), extract: [{ field: 'body', regex: '(?<9x>\\d)' }] }],
      'rules[0].extract[0].regex',
      'invalid_extract_name',
    ],
    [
      'a duplicate group name',
      [{ ...factureRule('https://hook.eu2.make.com/a'), extract: [{ field: 'body', regex: '(?<numero>\\d)' }] }],
      'rules[0].extract[0].regex',
      'duplicate_group_name',
    ],
  ])('refuses %s in a rule with 400, the field and the code', async (_name, rules, path, code) => {
    const res = await call('POST', '/api/routing_rules', { rules });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ success: false, code, errors: [expect.objectContaining({ path, code })] });
  });

  it('refuses a bad default-target template with its position, and stores a good one', async () => {
    const bad = await call('POST', '/api/webhooks/config', { payload: { format: 'template', template: '{ "a": foo. }' } });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({
      code: 'template_syntax',
      errors: [{ path: 'payload.template', code: 'template_syntax', position: 13 }],
    });
    expect((await call('GET', '/api/webhooks/config')).json.config).toMatchObject({ payload: { format: 'standard' } });
    const good = await call('POST', '/api/webhooks/config', { payload: { format: 'flat' } });
    expect(good.status).toBe(200);
    expect(good.json.config).toMatchObject({ payload: { format: 'flat' } });
    await call('POST', '/api/webhooks/config', { payload: { format: 'standard' } });
  });

  it('the dry run shows each delivery body, extracted, and the rule that lost a name', async () => {
    const second = {
      ...factureRule(sink.url),
      id: 'second',
      name: 'Second',
      conditions: [{ field: 'subject', operator: 'contains', value: 'facture' }],
      extract: [{ field: 'subject', regex: '(?<numero>\\d+)' }],
    };
    const saved = await call('POST', '/api/routing_rules', {
      rules: [factureRule('https://hook.eu2.make.com/tpl', { format: 'template', template: TEMPLATE }), second],
    });
    expect(saved.status).toBe(200);
    const email = sampleEmail({ subject: 'Votre facture 2026', sender: 'Compta <compta@client.fr>' });
    const dry = await call('POST', '/api/routing_rules/test', { email });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({
      extracted: { numero: '2026', domaine: 'client.fr' },
      extract_conflicts: [{ name: 'numero', kept_from: 'factures', ignored_from: 'second' }],
    });
    const deliveries = dry.json.deliveries as Array<Record<string, unknown>>;
    const templated = deliveries.find((d) => d.origin === 'rule:factures')!;
    expect(templated.payload_format).toBe('template');
    expect(JSON.parse(templated.body as string)).toEqual({
      numero: '2026',
      client: 'compta@client.fr',
      lien: 'https://www.dropbox.com/scl/fo/abc123/file.zip?dl=0',
      cle: templated.webhook_id,
    });
    expect(templated.bytes).toBe(Buffer.byteLength(templated.body as string));
    const standard = deliveries.find((d) => d.origin === 'rule:second')!;
    expect(standard.body).toBe(JSON.stringify(standard.payload));
    await call('POST', '/api/routing_rules', { rules: [] });
  });

  it('previews a typed template on a pasted email and on a received one; a syntax error gives its position', async () => {
    const email = sampleEmail({ subject: 'Votre facture 2026' });
    const pasted = await call('POST', '/api/payload/preview', { template: '{ "objet": subject, "cle": idempotency_key }', email });
    expect(pasted.json).toMatchObject({ success: true, format: 'template', body: expect.stringContaining('"objet":"Votre facture 2026"') });
    expect(pasted.json.bytes).toBe(Buffer.byteLength(pasted.json.body as string));
    const broken = await call('POST', '/api/payload/preview', { template: '{ "objet": subject, }', email });
    expect(broken.json).toMatchObject({
      success: true,
      error: { position: expect.any(Number), message: expect.stringContaining('position') },
    });
    const flat = await call('POST', '/api/payload/preview', { format: 'flat', email });
    expect(JSON.parse(flat.json.body as string)).toMatchObject({ subject: 'Votre facture 2026', link_1: expect.any(String) });
    const unsaved = await call('POST', '/api/payload/preview', {
      template: '{ "n": extracted.numero, "r": rule.name }',
      email,
      rules: [factureRule('https://hook.eu2.make.com/***')],
      rule_id: 'factures',
    });
    expect(JSON.parse(unsaved.json.body as string)).toEqual({ n: '2026', r: 'Factures' });

    // A received email: offered among the last ones, previewed by its id.
    const sent = await world.post(sampleEmail({ subject: 'Reçue : facture 1999' }));
    await sink.waitFor(1);
    const emailId = (sent.json as { email_id: string }).email_id;
    await waitUntil(async () => {
      const list = await call('GET', '/api/payload/emails');
      return (list.json.emails as Array<{ email_id: string }>).some((e) => e.email_id === emailId);
    });
    const received = await call('POST', '/api/payload/preview', { template: '{ "s": subject }', email_id: emailId });
    expect(received.json).toMatchObject({ body: '{"s":"Reçue : facture 1999"}', bytes: 29 });
    expect((await call('POST', '/api/payload/preview', { template: '{}', email_id: 'nope' })).status).toBe(404);
  });
});
