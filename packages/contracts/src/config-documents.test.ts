import { describe, expect, it } from '@jest/globals';
import {
  applyProcessingPrefsUpdate,
  applyRuntimeFlagsUpdate,
  applyWebhookConfigUpdate,
  createWebhookConfigSchema,
  DEFAULT_PROCESSING_PREFS,
  DEFAULT_RUNTIME_FLAGS,
  DEFAULT_WEBHOOK_CONFIG,
  processingPrefsSchema,
  runtimeFlagsSchema,
  webhookConfigSchema,
  webhookConfigUpdateSchema,
  type WebhookConfig,
} from './config-documents';

describe('defaults', () => {
  it('webhook_config', () => {
    expect(DEFAULT_WEBHOOK_CONFIG).toEqual({
      webhook_url: null,
      webhook_ssl_verify: true,
      webhook_sending_enabled: true,
      webhook_delivery_mode: 'json',
      webhook_fallback_on_415: true,
      webhook_require_success_flag: false,
      webhook_time_start: '',
      webhook_time_end: '',
      absence_pause_enabled: false,
      absence_pause_days: [],
      failure_webhook_url: null,
      alert_webhook_url: null,
      alert_email_to: '',
      _updated_at: null,
      _revision: 0,
    });
  });
  it('processing_prefs (rate limit 0 = unlimited)', () => {
    expect(DEFAULT_PROCESSING_PREFS).toEqual({
      exclude_keywords: [],
      require_attachments: false,
      max_email_size_mb: null,
      sender_priority: {},
      retry_count: 0,
      retry_delay_sec: 2,
      webhook_timeout_sec: 30,
      rate_limit_per_hour: 0,
      notify_on_failure: false,
      mirror_media_to_custom: true,
      _updated_at: null,
      _revision: 0,
    });
  });
  it('runtime_flags', () => {
    expect(DEFAULT_RUNTIME_FLAGS).toEqual({
      gmail_ingress_enabled: true,
      allow_custom_webhook_without_links: false,
      disable_email_id_dedup: false,
      _updated_at: null,
      _revision: 0,
    });
  });
});

describe('stored documents', () => {
  it("loads an original webhook_config document (unknown and obsolete keys dropped, Python's ISO timestamp)", () => {
    const original = {
      webhook_url: 'https://webhook.kidpixel.fr/index.php',
      webhook_ssl_verify: true,
      webhook_sending_enabled: false,
      webhook_time_start: '12h00',
      webhook_time_end: '22:00',
      global_time_start: '',
      presence_flag: true,
      absence_pause_enabled: true,
      absence_pause_days: ['saturday', 'sunday'],
      _updated_at: '2025-10-01T09:12:33.123456+00:00',
    };
    const parsed = webhookConfigSchema.parse(original);
    expect(parsed).toMatchObject({
      webhook_sending_enabled: false,
      webhook_time_start: '12h00',
      absence_pause_days: ['saturday', 'sunday'],
    });
    expect(parsed).not.toHaveProperty('presence_flag');
    expect(parsed._revision).toBe(0);
  });

  it.each([
    [{ webhook_time_start: '9h00' }, 'Both webhook_time_start and webhook_time_end are required (or both empty to clear).'],
    [{ webhook_time_start: '9h00', webhook_time_end: '25:00' }, 'Invalid time format. Use HHhMM or HH:MM (e.g., 11h30, 17:45).'],
    [{ absence_pause_enabled: true }, 'Au moins un jour doit être sélectionné pour activer la pause absence.'],
    [{ absence_pause_days: ['lundi'] }, 'Jours invalides'],
    [{ webhook_delivery_mode: 'xml' }, "webhook_delivery_mode doit être 'json' ou 'form'."],
    [{ webhook_url: 'https://example.com/x' }, 'webhook_url ne peut pas être une URL placeholder (ex: example.com).'],
    [{ _revision: -1 }, undefined],
    [{ _updated_at: 'yesterday' }, undefined],
  ])('refuses %j', (doc, message) => {
    const result = webhookConfigSchema.safeParse(doc);
    expect(result.success).toBe(false);
    if (message) expect(result.error?.issues[0]?.message).toBe(message);
  });

  it('processing_prefs and runtime_flags keep only known keys and check bounds', () => {
    expect(processingPrefsSchema.parse({ retry_count: 3, legacy: 1 })).not.toHaveProperty('legacy');
    expect(processingPrefsSchema.safeParse({ retry_count: 11 }).error?.issues[0]?.message).toBe('retry_count hors limites (0..10)');
    expect(runtimeFlagsSchema.parse({ gmail_ingress_enabled: false, other: true })).toEqual({
      ...DEFAULT_RUNTIME_FLAGS,
      gmail_ingress_enabled: false,
    });
  });
});

describe('applyWebhookConfigUpdate (POST /api/webhooks/config)', () => {
  const current: WebhookConfig = { ...DEFAULT_WEBHOOK_CONFIG, webhook_url: 'https://hook.eu2.make.com/old', _revision: 4 };

  it.each<[string, unknown, Partial<WebhookConfig>]>([
    ['Make token alias', { webhook_url: 'tok@hook.eu2.make.com' }, { webhook_url: 'https://hook.eu2.make.com/tok' }],
    ['bare Make token', { webhook_url: 'tok' }, { webhook_url: 'https://hook.eu2.make.com/tok' }],
    ['URL trimmed', { webhook_url: '  https://hooks.zapier.com/a  ' }, { webhook_url: 'https://hooks.zapier.com/a' }],
    ['empty clears', { webhook_url: '' }, { webhook_url: null }],
    ['null clears', { webhook_url: null }, { webhook_url: null }],
    ['bool() coercion: "false" is true', { webhook_ssl_verify: 'false' }, { webhook_ssl_verify: true }],
    ['bool() coercion: 0 is false', { webhook_sending_enabled: 0 }, { webhook_sending_enabled: false }],
    ['delivery mode lower-cased', { webhook_delivery_mode: ' FORM ' }, { webhook_delivery_mode: 'form' }],
    [
      'days lower-cased, trimmed, non-strings dropped',
      { absence_pause_enabled: true, absence_pause_days: [' Monday', 3, 'FRIDAY'] },
      { absence_pause_enabled: true, absence_pause_days: ['monday', 'friday'] },
    ],
    [
      'time window set',
      { webhook_time_start: ' 9h00 ', webhook_time_end: '18:30' },
      { webhook_time_start: '9h00', webhook_time_end: '18:30' },
    ],
    ['time window cleared', { webhook_time_start: '', webhook_time_end: null }, { webhook_time_start: '', webhook_time_end: '' }],
    ['unknown and obsolete keys ignored', { polling_enabled: true, recadrage_webhook_url: 'x', foo: 1 }, {}],
    ['failure webhook', { failure_webhook_url: 'https://alerts.acme.io/hook' }, { failure_webhook_url: 'https://alerts.acme.io/hook' }],
    ['success-flag check opt-in', { webhook_require_success_flag: true }, { webhook_require_success_flag: true }],
  ])('%s', (_case, body, expected) => {
    const result = applyWebhookConfigUpdate(current, body);
    expect(result).toEqual({ ok: true, value: { ...current, ...expected } });
  });

  it.each([
    ['http URL', { webhook_url: 'http://hooks.zapier.com/a' }, 'webhook_url doit être une URL HTTPS valide.'],
    ['not a string', { webhook_url: 42 }, 'webhook_url doit être une URL HTTPS valide.'],
    ['unparsable https', { webhook_url: 'https://' }, 'webhook_url doit être une URL HTTPS valide.'],
    ['unrecognised shorthand', { webhook_url: 'a/b' }, 'webhook_url doit être une URL HTTPS valide.'],
    ['placeholder', { webhook_url: 'https://example.com/hook' }, 'webhook_url ne peut pas être une URL placeholder (ex: example.com).'],
    [
      'placeholder subdomain',
      { webhook_url: 'https://hooks.example.net/x' },
      'webhook_url ne peut pas être une URL placeholder (ex: example.com).',
    ],
    [
      'loopback without private networking',
      { webhook_url: 'https://127.0.0.1/x' },
      'webhook_url ne peut pas être une URL placeholder (ex: example.com).',
    ],
    ['bad delivery mode', { webhook_delivery_mode: 'xml' }, "webhook_delivery_mode doit être 'json' ou 'form'."],
    ['days not a list', { absence_pause_days: 'monday' }, 'absence_pause_days doit être une liste.'],
    ['invalid days', { absence_pause_days: ['monday', 'Lundi', 'dimanche'] }, 'Jours invalides: lundi, dimanche'],
    ['enabled without days', { absence_pause_enabled: true }, 'Au moins un jour doit être sélectionné pour activer la pause absence.'],
    [
      'enabled with empty days',
      { absence_pause_enabled: 1, absence_pause_days: [] },
      'Au moins un jour doit être sélectionné pour activer la pause absence.',
    ],
    ['only a start', { webhook_time_start: '9h00' }, 'Both webhook_time_start and webhook_time_end are required (or both empty to clear).'],
    ['only an end', { webhook_time_end: '9h00' }, 'Both webhook_time_start and webhook_time_end are required (or both empty to clear).'],
    ['bad time', { webhook_time_start: '9h', webhook_time_end: '18h00' }, 'Invalid time format. Use HHhMM or HH:MM (e.g., 11h30, 17:45).'],
    [
      'hour out of range',
      { webhook_time_start: '09:00', webhook_time_end: '24:00' },
      'Invalid time format. Use HHhMM or HH:MM (e.g., 11h30, 17:45).',
    ],
    ['bad failure webhook', { failure_webhook_url: 'http://x.io' }, 'failure_webhook_url doit être une URL HTTPS valide.'],
  ])('%s → 400 message', (_case, body, message) => {
    const result = applyWebhookConfigUpdate(current, body);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toBe(message);
      expect(result.errors[0]?.path).toBeTruthy();
    }
  });

  it('enabling the pause uses the stored days', () => {
    const withDays = { ...current, absence_pause_days: ['sunday' as const] };
    expect(applyWebhookConfigUpdate(withDays, { absence_pause_enabled: true })).toMatchObject({
      ok: true,
      value: { absence_pause_enabled: true },
    });
  });

  it('allows http and loopback targets only with private networking', () => {
    const policy = { allowPrivateNetwork: true };
    expect(applyWebhookConfigUpdate(current, { webhook_url: 'http://127.0.0.1:9000/sink' }, policy)).toMatchObject({
      ok: true,
      value: { webhook_url: 'http://127.0.0.1:9000/sink' },
    });
    expect(applyWebhookConfigUpdate(current, { webhook_url: 'http://localhost:9000/sink' }, policy).ok).toBe(true);
    expect(applyWebhookConfigUpdate(current, { webhook_url: 'https://example.com/x' }, policy).ok).toBe(false);
    expect(createWebhookConfigSchema(policy).safeParse({ webhook_url: 'ftp://127.0.0.1/x' }).success).toBe(false);
  });

  it('an empty body changes nothing', () => {
    expect(applyWebhookConfigUpdate(current, {})).toEqual({ ok: true, value: current });
    expect(applyWebhookConfigUpdate(current, null)).toEqual({ ok: true, value: current });
    expect(webhookConfigUpdateSchema.parse({})).toEqual({});
  });
});

describe('applyProcessingPrefsUpdate (POST /api/processing_prefs)', () => {
  it.each<[string, unknown, Record<string, unknown>]>([
    ['int() accepts numeric strings', { retry_count: '3' }, { retry_count: 3 }],
    ['int() truncates floats', { retry_delay_sec: 5.9 }, { retry_delay_sec: 5 }],
    [
      'bounds inclusive',
      { retry_count: 10, retry_delay_sec: 0, webhook_timeout_sec: 300, rate_limit_per_hour: 100000 },
      { retry_count: 10, retry_delay_sec: 0, webhook_timeout_sec: 300, rate_limit_per_hour: 100000 },
    ],
    ['keywords trimmed, empties dropped', { exclude_keywords: [' promo ', '', '  ', 'pub'] }, { exclude_keywords: ['promo', 'pub'] }],
    [
      'per-detector keyword lists',
      { exclude_keywords_recadrage: ['a'], exclude_keywords_autorepondeur: ['b'] },
      { exclude_keywords_recadrage: ['a'], exclude_keywords_autorepondeur: ['b'] },
    ],
    ['max size null', { max_email_size_mb: null }, { max_email_size_mb: null }],
    ['max size int', { max_email_size_mb: '25' }, { max_email_size_mb: 25 }],
    ['sender priority normalised', { sender_priority: { ' Boss@Acme.IO ': ' HIGH ' } }, { sender_priority: { 'boss@acme.io': 'high' } }],
    ['bool() coercion', { require_attachments: 'no', notify_on_failure: 0 }, { require_attachments: true, notify_on_failure: false }],
    ['unknown keys ignored', { foo: 'bar' }, {}],
  ])('%s', (_case, body, expected) => {
    expect(applyProcessingPrefsUpdate(DEFAULT_PROCESSING_PREFS, body)).toEqual({
      ok: true,
      value: { ...DEFAULT_PROCESSING_PREFS, ...expected },
    });
  });

  it.each([
    [{ retry_count: 11 }, 'retry_count hors limites (0..10)'],
    [{ retry_count: -1 }, 'retry_count hors limites (0..10)'],
    [{ retry_delay_sec: 601 }, 'retry_delay_sec hors limites (0..600)'],
    [{ webhook_timeout_sec: 0 }, 'webhook_timeout_sec hors limites (1..300)'],
    [{ rate_limit_per_hour: 100001 }, 'rate_limit_per_hour hors limites (0..100000)'],
    [{ retry_count: 'abc' }, "Validation error: invalid literal for int() with base 10: 'abc'"],
    [{ retry_count: null }, "Validation error: int() argument must be a string, a bytes-like object or a real number, not 'NoneType'"],
    [{ max_email_size_mb: 0 }, 'max_email_size_mb doit être > 0 ou null'],
    [{ max_email_size_mb: 'x' }, "Validation error: invalid literal for int() with base 10: 'x'"],
    [{ exclude_keywords: 'promo' }, 'exclude_keywords doit être une liste de chaînes'],
    [{ exclude_keywords: ['a', 1] }, 'exclude_keywords doit être une liste de chaînes'],
    [{ exclude_keywords_recadrage: {} }, 'exclude_keywords_recadrage doit être une liste de chaînes'],
    [{ exclude_keywords_autorepondeur: [null] }, 'exclude_keywords_autorepondeur doit être une liste de chaînes'],
    [{ sender_priority: [] }, 'sender_priority doit être un objet {email: niveau}'],
    [{ sender_priority: { a: 1 } }, 'sender_priority: clés et valeurs doivent être des chaînes'],
    [{ sender_priority: { a: 'urgent' } }, 'sender_priority: niveau invalide (high|medium|low)'],
  ])('%j → %s', (body, message) => {
    expect(applyProcessingPrefsUpdate(DEFAULT_PROCESSING_PREFS, body)).toMatchObject({ ok: false, message });
  });

  it('keeps the current values it is not given, and fills missing keys with defaults', () => {
    const current = { ...DEFAULT_PROCESSING_PREFS, retry_count: 4, _revision: 2 };
    const result = applyProcessingPrefsUpdate(current, { retry_delay_sec: 9 });
    expect(result).toEqual({ ok: true, value: { ...current, retry_delay_sec: 9 } });
  });
});

describe('applyRuntimeFlagsUpdate (POST /api/update_runtime_flags)', () => {
  it.each<[unknown, Record<string, boolean>]>([
    [{ gmail_ingress_enabled: false }, { gmail_ingress_enabled: false }],
    [
      { disable_email_id_dedup: 'yes', allow_custom_webhook_without_links: 1 },
      { disable_email_id_dedup: true, allow_custom_webhook_without_links: true },
    ],
    [{ gmail_ingress_enabled: '' }, { gmail_ingress_enabled: false }],
    [{ unknown_flag: true }, {}],
  ])('%j', (body, expected) => {
    expect(applyRuntimeFlagsUpdate(DEFAULT_RUNTIME_FLAGS, body)).toEqual({ ok: true, value: { ...DEFAULT_RUNTIME_FLAGS, ...expected } });
  });
});

describe('webhook_config.payload (the default target body)', () => {
  it('is absent from a document of the original, which loads unchanged (standard)', () => {
    expect(Object.keys(webhookConfigSchema.parse({ webhook_url: 'https://hook.eu2.make.com/abc' }))).not.toContain('payload');
  });

  it.each<[string, unknown, string, string]>([
    ['a syntax error', { format: 'template', template: '{ "a": }' }, 'payload.template', 'template_syntax'],
    ['a template over 10 KB', { format: 'template', template: `"${'x'.repeat(10_241)}"` }, 'payload.template', 'template_too_large'],
    ['no template', { format: 'template' }, 'payload.template', 'template_required'],
    ['an unknown format', { format: 'xml' }, 'payload.format', 'invalid_payload_format'],
  ])('refuses %s with its path and code', (_name, payload, path, code) => {
    const result = applyWebhookConfigUpdate(DEFAULT_WEBHOOK_CONFIG, { payload });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]).toMatchObject({ path, code });
  });

  it('stores a valid template and flat', () => {
    const template = '{ "numero": extracted.numero }';
    expect(applyWebhookConfigUpdate(DEFAULT_WEBHOOK_CONFIG, { payload: { format: 'template', template } })).toMatchObject({
      ok: true,
      value: { payload: { format: 'template', template } },
    });
    expect(applyWebhookConfigUpdate(DEFAULT_WEBHOOK_CONFIG, { payload: { format: 'flat', template: 'ignored' } })).toMatchObject({
      ok: true,
      value: { payload: { format: 'flat' } },
    });
  });
});
