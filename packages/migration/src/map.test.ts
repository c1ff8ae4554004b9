import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PROCESSING_PREFS, DEFAULT_RUNTIME_FLAGS, DEFAULT_WEBHOOK_CONFIG } from '@render-signal/contracts';
import {
  isSkip,
  mapMagicLinks,
  mapProcessedMarker,
  mapProcessingPrefs,
  mapRoutingRules,
  mapRuntimeFlags,
  mapWebhookConfig,
  mapWebhookLogLine,
  parseOriginalTimestamp,
  RATE_LIMIT_REASON,
} from './map';

const STRICT = { allowPrivateNetwork: false };
const NOW = Date.parse('2026-12-01T12:00:00Z');

describe('mapWebhookConfig (original webhook_config document)', () => {
  const original = {
    webhook_url: 'https://hook.eu2.make.com/abc123secret',
    webhook_ssl_verify: false,
    webhook_sending_enabled: true,
    webhook_delivery_mode: 'form',
    webhook_fallback_on_415: false,
    webhook_time_start: '08h30',
    webhook_time_end: '18:00',
    absence_pause_enabled: true,
    absence_pause_days: ['saturday', 'sunday'],
    global_time_start: '09:00',
    global_time_end: '17:00',
    _updated_at: '2026-11-01T10:00:00+00:00',
  };

  it('carries every field, lists the global window with why, masks URLs in the changes', () => {
    const mapped = mapWebhookConfig(original, DEFAULT_WEBHOOK_CONFIG, STRICT);
    expect(mapped.value).toMatchObject({
      webhook_url: 'https://hook.eu2.make.com/abc123secret',
      webhook_ssl_verify: false,
      webhook_delivery_mode: 'form',
      webhook_fallback_on_415: false,
      webhook_time_start: '08h30',
      webhook_time_end: '18:00',
      absence_pause_enabled: true,
      absence_pause_days: ['saturday', 'sunday'],
    });
    expect(mapped.changes).toContainEqual({ field: 'webhook_config.webhook_url', from: '(empty)', to: 'https://hook.eu2.make.com/***' });
    expect(JSON.stringify(mapped.changes)).not.toContain('abc123secret');
    expect(mapped.skipped.map((s) => s.item)).toEqual(['webhook_config.global_time_start', 'webhook_config.global_time_end']);
  });

  it.each([
    ['a placeholder URL', { webhook_url: 'https://example.com/hook' }, 'webhook_config.webhook_url', /placeholder/],
    ['an http:// URL', { webhook_url: 'http://hook.eu2.make.com/x' }, 'webhook_config.webhook_url', /HTTPS/],
    ['an invalid mode', { webhook_delivery_mode: 'xml' }, 'webhook_config.webhook_delivery_mode', /json/],
    ['half a window', { webhook_time_start: '08:00' }, 'webhook_config.webhook_time_start+webhook_time_end', /required/],
    ['enabled absence without days', { absence_pause_enabled: true, absence_pause_days: [] }, expect.stringContaining('absence'), /jour/],
    ['an unknown field', { colour: 'blue' }, 'webhook_config.colour', /unknown/],
  ])('lists %s as not carried and keeps the rest', (_label, fields, item, reason) => {
    const mapped = mapWebhookConfig({ ...fields, webhook_ssl_verify: false }, DEFAULT_WEBHOOK_CONFIG, STRICT);
    expect(mapped.skipped).toContainEqual(expect.objectContaining({ item, reason: expect.stringMatching(reason) }));
    expect(mapped.value.webhook_ssl_verify).toBe(false);
  });

  it('leaves the current URL when the original had none (it used env WEBHOOK_URL)', () => {
    const current = { ...DEFAULT_WEBHOOK_CONFIG, webhook_url: 'https://hook.eu2.make.com/new' };
    expect(mapWebhookConfig({ webhook_url: '' }, current, STRICT)).toEqual({ value: current, carried: 0, changes: [], skipped: [] });
  });

  it('reports no change when the new store already holds the same values (second run)', () => {
    const first = mapWebhookConfig(original, DEFAULT_WEBHOOK_CONFIG, STRICT);
    expect(mapWebhookConfig(original, first.value, STRICT).changes).toEqual([]);
  });
});

describe('mapProcessingPrefs / mapRuntimeFlags', () => {
  it.each([
    [
      { retry_count: 3, retry_delay_sec: '5', exclude_keywords: [' spam ', ''] },
      { retry_count: 3, retry_delay_sec: 5, exclude_keywords: ['spam'] },
      0,
    ],
    [{ rate_limit_per_hour: 5 }, { rate_limit_per_hour: 0 }, 1],
    [{ rate_limit_per_hour: 100 }, { rate_limit_per_hour: 100 }, 0],
    [{ retry_count: 99, webhook_timeout_sec: 20 }, { retry_count: 0, webhook_timeout_sec: 20 }, 1],
    [{ sender_priority: { 'A@B.fr': 'HIGH' } }, { sender_priority: { 'a@b.fr': 'high' } }, 0],
  ])('prefs %j → %j (%i not carried)', (original, expected, skippedCount) => {
    const mapped = mapProcessingPrefs(original, DEFAULT_PROCESSING_PREFS);
    expect(mapped.value).toMatchObject(expected);
    expect(mapped.skipped).toHaveLength(skippedCount);
  });

  it('explains the unenforced default rate limit', () => {
    expect(mapProcessingPrefs({ rate_limit_per_hour: 5 }, DEFAULT_PROCESSING_PREFS).skipped[0]?.reason).toBe(RATE_LIMIT_REASON);
  });

  it.each([
    [
      { gmail_ingress_enabled: false, allow_custom_webhook_without_links: true },
      { gmail_ingress_enabled: false, allow_custom_webhook_without_links: true },
      0,
    ],
    [{ disable_email_id_dedup: true }, { disable_email_id_dedup: false }, 1],
    [{ disable_email_id_dedup: false }, { disable_email_id_dedup: false }, 0],
  ])('flags %j → %j', (original, expected, skippedCount) => {
    const mapped = mapRuntimeFlags(original, DEFAULT_RUNTIME_FLAGS);
    expect(mapped.value).toMatchObject(expected);
    expect(mapped.skipped).toHaveLength(skippedCount);
  });
});

describe('mapRoutingRules (original {rules, _updated_at})', () => {
  const rule = (id: string, url: string, extra: Record<string, unknown> = {}) => ({
    id,
    name: `Rule ${id}`,
    conditions: [{ field: 'subject', operator: 'contains', value: 'urgent', case_sensitive: false }],
    actions: { webhook_url: url, priority: 'high', stop_processing: true },
    ...extra,
  });

  it('carries valid rules, lists http://, placeholder and bad-regex rules with why', () => {
    const mapped = mapRoutingRules(
      {
        rules: [
          rule('a', 'https://hook.eu2.make.com/aaa'),
          rule('b', 'http://hook.eu2.make.com/bbb'),
          rule('c', 'https://example.com/x'),
          rule('d', 'https://x.test/d', { conditions: [{ field: 'body', operator: 'regex', value: '(', case_sensitive: false }] }),
          rule('e', 'tokenonly123'),
        ],
        _updated_at: null,
      },
      { rules: [] },
      STRICT,
    );
    expect(mapped.value.rules.map((r) => [r.id, r.actions.webhook_url])).toEqual([
      ['a', 'https://hook.eu2.make.com/aaa'],
      ['e', 'https://hook.eu2.make.com/tokenonly123'],
    ]);
    expect(mapped.skipped.map((s) => [s.item, s.value])).toEqual([
      ['routing_rules.rules[1] "Rule b"', 'http://hook.eu2.make.com/***'],
      ['routing_rules.rules[2] "Rule c"', 'https://example.com/***'],
      ['routing_rules.rules[3] "Rule d"', 'https://x.test/***'],
    ]);
    expect(mapped.skipped[0]!.reason).toMatch(/HTTPS/);
    expect(mapped.skipped[2]!.reason).toMatch(/régulière/);
    expect(JSON.stringify(mapped.changes)).not.toContain('aaa');
  });

  it('says which current rules the original list replaces', () => {
    const current = mapRoutingRules({ rules: [rule('mine', 'https://hook.eu2.make.com/mine')] }, { rules: [] }, STRICT).value;
    const mapped = mapRoutingRules({ rules: [rule('a', 'https://hook.eu2.make.com/aaa')] }, current, STRICT);
    expect(mapped.changes).toContainEqual({
      field: 'routing_rules.rules "Rule mine"',
      from: 'present',
      to: "(removed: the original's list replaces it)",
    });
  });

  it('carries nothing from an empty list, and reports no change on a second run', () => {
    expect(mapRoutingRules({ rules: [] }, { rules: [] }, STRICT).changes).toEqual([]);
    const first = mapRoutingRules({ rules: [rule('a', 'https://hook.eu2.make.com/aaa')] }, { rules: [] }, STRICT);
    expect(mapRoutingRules({ rules: [rule('a', 'https://hook.eu2.make.com/aaa')] }, first.value, STRICT).changes).toEqual([]);
  });
});

describe('mapMagicLinks (original {token_id: {expires_at, consumed, consumed_at, single_use}})', () => {
  it('carries permanent and unexpired unused one-shot links, lists the others', () => {
    const nowS = NOW / 1000;
    const mapped = mapMagicLinks(
      {
        permanentAAAAAAAAAAAAAA: { expires_at: null, consumed: false, consumed_at: null, single_use: false },
        oneshotBBBBBBBBBBBBBBBB: { expires_at: nowS + 600, consumed: false, consumed_at: null, single_use: true },
        usedCCCCCCCCCCCCCCCCCCC: { expires_at: nowS + 600, consumed: true, consumed_at: nowS - 5, single_use: true },
        expiredDDDDDDDDDDDDDDDD: { expires_at: nowS - 1, consumed: false, consumed_at: null, single_use: true },
        _updated_at: '2026-11-01T00:00:00Z',
      },
      NOW,
    );
    expect(mapped.links).toEqual([
      { id: 'permanentAAAAAAAAAAAAAA', expires: null },
      { id: 'oneshotBBBBBBBBBBBBBBBB', expires: nowS + 600 },
    ]);
    expect(mapped.skipped.map((s) => s.reason)).toEqual(['one-shot link already used', expect.stringMatching(/^expired on/)]);
  });
});

describe('processed markers and log lines', () => {
  it.each([
    [
      { emailId: 'abc', pttlMs: 1_000 },
      { emailId: 'abc', ttlMs: 1_000 },
    ],
    [
      { emailId: 'abc', pttlMs: -1 },
      { emailId: 'abc', ttlMs: 30 * 86_400_000 },
    ],
    [{ emailId: 'abc', pttlMs: -2 }, null],
  ])('marker %j', (marker, expected) => {
    const mapped = mapProcessedMarker(marker, 30 * 86_400_000);
    expect(isSkip(mapped) ? null : mapped).toEqual(expected);
  });

  it.each([
    ['2026-11-30T10:00:00.123456+00:00', Date.parse('2026-11-30T10:00:00.123Z')],
    ['2026-11-30T10:00:00', Date.parse('2026-11-30T10:00:00Z')],
    ['yesterday', null],
    [null, null],
  ])('timestamp %s', (text, expected) => {
    expect(parseOriginalTimestamp(text)).toBe(expected);
  });

  const line = {
    timestamp: '2026-11-30T10:00:00.123456+00:00',
    type: 'custom',
    email_id: 'e1',
    status: 'error',
    status_code: 200,
    webhook_url: 'https://hook.eu2.make.com/abcdefghijklmnopqrstuvwxyz0123...',
    subject: 'Média Solution - Missions Recadrage - Lot 12',
    delivery_mode: 'json',
    attempted_delivery_modes: ['json'],
    fallback_used: false,
    payload_size_bytes: 1234,
    error_message: 'Accepted',
    response_snippet: 'Accepted',
    failure_reason: 'remote_application_error',
  };

  it('maps an original log line with its date, URL masked, and a stable import key', () => {
    const mapped = mapWebhookLogLine(JSON.stringify(line), 'webhook_logs', 0, { nowMs: NOW, maxAgeDays: 30 });
    expect(mapped).toMatchObject({
      timestamp: '2026-11-30T10:00:00.123Z',
      email_id: 'e1',
      status: 'error',
      status_code: 200,
      webhook_url: 'https://hook.eu2.make.com/***',
      subject: line.subject,
      failure_reason: 'remote_application_error',
      import_key: expect.stringMatching(/^original:[0-9a-f]{24}$/),
    });
    const again = mapWebhookLogLine(line, 'r:ss:webhook_logs:v1', 3, { nowMs: NOW, maxAgeDays: 30 });
    expect(again).toMatchObject({ import_key: (mapped as { import_key: string }).import_key });
  });

  it.each([
    ['not json', /invalid JSON/],
    [JSON.stringify({ ...line, timestamp: 'soon' }), /date/],
    [JSON.stringify({ ...line, timestamp: '2026-09-01T00:00:00+00:00' }), /WEBHOOK_LOG_MAX_AGE_DAYS/],
    [JSON.stringify({ ...line, status: 'weird' }), /status/],
  ])('lists %s with why', (raw, reason) => {
    const mapped = mapWebhookLogLine(raw, 'webhook_logs', 7, { nowMs: NOW, maxAgeDays: 30 });
    expect(mapped).toMatchObject({ item: 'webhook_logs[7]', reason: expect.stringMatching(reason) });
  });
});
