import { describe, expect, it } from '@jest/globals';
import { compileTemplate, type DeliveryTarget, type EmailContent } from '@render-signal/contracts';
import { PermanentDeliveryError } from './errors';
import { buildWebhookPayload, serializeWebhookPayload } from './payload';
import { attemptBody, createPayloadRenderer, flatPayload, senderName, type FormatSource } from './payload-format';

const EMAIL: EmailContent = {
  subject: 'Votre facture 2026',
  sender: '"Jean Dupont" <Jean@Client.fr>',
  date: '2026-12-07T09:00:00.000Z',
  body: 'Bonjour, la facture: https://www.dropbox.com/scl/fo/a https://www.dropbox.com/scl/fo/b',
};
const PAYLOAD = buildWebhookPayload({
  emailId: 'e1',
  email: EMAIL,
  detection: { detector: 'recadrage', delivery_time: '10h00' },
  window: {},
  links: [
    { provider: 'dropbox', raw_url: 'https://www.dropbox.com/scl/fo/a', r2_url: 'https://files.example.net/a.zip' },
    { provider: 'dropbox', raw_url: 'https://www.dropbox.com/scl/fo/b' },
  ],
  routingRule: { id: 'factures', name: 'Factures', priority: 'normal' },
});
const TARGET: DeliveryTarget = {
  url: 'https://hook.eu2.make.com/secret-token',
  origin: 'rule:factures',
  mode: 'json',
  fallback_on_415: true,
  tls_verify: true,
  require_success_flag: false,
};
const source = (overrides: Partial<FormatSource> = {}): FormatSource => ({
  payload: PAYLOAD,
  webhook_id: 'msg_abc',
  target: TARGET,
  extracted: { numero: '2026' },
  ...overrides,
});
const renderer = createPayloadRenderer({ timeoutMs: 50, maxBodyBytes: 5 * 1024 * 1024 });
const render = async (template: string, limits = renderer) =>
  JSON.parse((await limits.render({ format: 'template', template }, source())).toString('utf8')) as unknown;

describe('standard: the kept contract', () => {
  it('is the standard payload serialised, byte for byte, at once (nothing rendered)', () => {
    const body = attemptBody(source({ extracted: { numero: '2026' } }), renderer);
    expect(Buffer.isBuffer(body)).toBe(true);
    expect((body as Buffer).equals(serializeWebhookPayload(PAYLOAD))).toBe(true);
    expect(
      (attemptBody(source({ payload_format: { format: 'standard' } }), undefined) as Buffer).equals(serializeWebhookPayload(PAYLOAD)),
    ).toBe(true);
  });
});

describe('flat', () => {
  it('has exactly the listed keys, in order', async () => {
    const flat = flatPayload(PAYLOAD, { numero: '2026', client: 'C-9' }, 'msg_abc');
    expect(flat).toEqual({
      email_id: 'e1',
      subject: 'Votre facture 2026',
      sender_email: 'jean@client.fr',
      sender_name: 'Jean Dupont',
      received_at: '2026-12-07T09:00:00.000Z',
      body_preview: PAYLOAD.bodyPreview,
      detector: 'recadrage',
      delivery_time: '10h00',
      link_1: 'https://www.dropbox.com/scl/fo/a',
      link_2: 'https://www.dropbox.com/scl/fo/b',
      r2_url_1: 'https://files.example.net/a.zip',
      extracted_numero: '2026',
      extracted_client: 'C-9',
      rule_name: 'Factures',
      idempotency_key: 'msg_abc',
    });
    expect(Object.values(flat).every((v) => v === null || typeof v !== 'object')).toBe(true);
    const body = (await (attemptBody(source({ payload_format: { format: 'flat' } }), renderer) as () => Promise<Buffer>)()).toString();
    expect(JSON.parse(body)).toMatchObject({ extracted_numero: '2026', idempotency_key: 'msg_abc' });
  });

  it.each([
    ['"Jean Dupont" <j@x.fr>', 'Jean Dupont'],
    ['Jean <j@x.fr>', 'Jean'],
    ['j@x.fr', ''],
    ['<j@x.fr>', ''],
  ])('sender_name of %s is %j', (sender, name) => expect(senderName(sender)).toBe(name));
});

describe('template', () => {
  it('renders the issue example over the standard body plus extracted and idempotency_key', async () => {
    expect(
      await render('{ "numero": extracted.numero, "client": sender_email, "lien": delivery_links[0].raw_url, "cle": idempotency_key }'),
    ).toEqual({ numero: '2026', client: 'jean@client.fr', lien: 'https://www.dropbox.com/scl/fo/a', cle: 'msg_abc' });
  });

  it('sees the rule and the target host, never the target path', async () => {
    expect(await render('{ "rule": rule.name, "target": target }')).toEqual({
      rule: 'Factures',
      target: { origin: 'rule:factures', host: 'hook.eu2.make.com' },
    });
  });

  it('renames and filters', async () => {
    expect(await render('{ "objet": subject, "liens": delivery_links[r2_url].r2_url }')).toEqual({
      objet: 'Votre facture 2026',
      liens: 'https://files.example.net/a.zip',
    });
  });

  it.each<[string, string, RegExp]>([
    ['an infinite tail recursion (timeout)', '($f := function($x){ $f($x) }; $f(1))', /D1012|timeout/i],
    ['a deep recursion (depth)', '($f := function($x){ 1 + $f($x) }; $f(1))', /D1011|Stack/i],
    ['a loop over a huge range', '$sum([1..9999999])', /D2015/],
    ['a runtime error', '{ "a": $number("abc") + $x() }', /T1006|D3030|function/i],
    ['an array', '[1, 2]', /objet JSON.*liste/],
    ['a string', '"texte"', /objet JSON.*string/],
    ['nothing', 'absent_field', /objet JSON.*rien/],
    ['a syntax error (saved before the check existed)', '{ "a": }', /position/],
    ['a regex literal', '{ "a": $match(subject, /f+/) }', /Expression régulière/],
  ])('fails on %s with a TemplateError, quickly', async (_name, template, message) => {
    const started = Date.now();
    const body = attemptBody(source({ payload_format: { format: 'template', template } }), renderer) as () => Promise<Buffer>;
    const error = await body().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect((error as PermanentDeliveryError).facts).toMatchObject({
      failure_reason: 'template_error',
      response_excerpt: expect.stringMatching(message),
    });
    // The bound: TEMPLATE_TIMEOUT_MS + 1 s.
    expect(Date.now() - started).toBeLessThan(50 + 1_000);
  });

  it('refuses a body over WEBHOOK_MAX_BODY_BYTES', async () => {
    const small = createPayloadRenderer({ timeoutMs: 50, maxBodyBytes: 100 });
    await expect(render('{ "c": email_content, "d": email_content, "e": email_content }', small)).rejects.toThrow(/WEBHOOK_MAX_BODY_BYTES/);
  });

  it('compiles a template once per text', async () => {
    const counting = createPayloadRenderer({ timeoutMs: 50, maxBodyBytes: 1_000_000 });
    const template = '{ "n": extracted.numero }';
    const first = await counting.renderTemplate(template, { extracted: { numero: '1' } });
    const second = await counting.renderTemplate(template, { extracted: { numero: '2' } });
    expect([first, second]).toEqual([{ n: '1' }, { n: '2' }]);
  });
});

describe('compileTemplate (save-time check)', () => {
  it.each<[string, string, string, number]>([
    ['a dangling dot', '{ "a": foo. }', 'template_syntax', 13],
    ['an unclosed object', '{ "a": 1 ', 'template_syntax', 9],
    ['blanks', '   ', 'template_required', 0],
    ['over 10 KB', `"${'x'.repeat(10 * 1024)}"`, 'template_too_large', 0],
    ['a regex literal', '{ "a": $replace(subject, /x/, "y") }', 'template_regex', 28],
  ])('%s → %s', (_name, template, code, position) => {
    expect(compileTemplate(template)).toMatchObject({ ok: false, code, position });
  });
});
