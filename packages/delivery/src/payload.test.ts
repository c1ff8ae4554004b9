import { describe, expect, it } from '@jest/globals';
import { computeEmailId, type EmailContent } from '@render-signal/contracts';
import { bodyPreview, buildWebhookPayload, serializeWebhookPayload, type WebhookPayloadInput } from './payload';

const EMAIL: EmailContent = {
  subject: 'Média Solution - Missions Recadrage - Lot 42',
  sender: 'Planning Média <Planning@Media-Solution.FR>',
  date: '2025-09-03T07:12:00.000Z',
  body: '<p>à faire pour 10h</p> https://www.dropbox.com/scl/fo/abc',
};

const input = (overrides: Partial<WebhookPayloadInput> = {}): WebhookPayloadInput => ({
  emailId: computeEmailId(EMAIL),
  email: EMAIL,
  detection: { detector: null },
  window: {},
  links: [],
  ...overrides,
});

const ORIGINAL_KEYS = [
  'microsoft_graph_email_id',
  'subject',
  'receivedDateTime',
  'sender_address',
  'bodyPreview',
  'email_content',
  'source',
  'sender_email',
];

describe('buildWebhookPayload: fields and key order (docs/original-behaviour.md)', () => {
  it('minimal email: the original base fields, then email_id', () => {
    const payload = buildWebhookPayload(input());
    expect(Object.keys(payload)).toEqual([...ORIGINAL_KEYS, 'email_id']);
    expect(payload).toEqual({
      microsoft_graph_email_id: computeEmailId(EMAIL),
      subject: EMAIL.subject,
      receivedDateTime: EMAIL.date,
      sender_address: 'Planning Média <Planning@Media-Solution.FR>',
      bodyPreview: EMAIL.body,
      email_content: EMAIL.body,
      source: 'gmail_push',
      sender_email: 'planning@media-solution.fr',
      email_id: computeEmailId(EMAIL),
    });
  });

  it('every field present, in the original order then ours', () => {
    const payload = buildWebhookPayload(
      input({
        email: { ...EMAIL, message_id: '18c2f0a1b2c3d4e5', thread_id: '18c2f0a1b2c3d4e0' },
        emailId: '18c2f0a1b2c3d4e5',
        detection: { detector: 'recadrage', delivery_time: 'le 03/09/2025 à 09h00' },
        window: { webhooks_time_start: 'maintenant', webhooks_time_end: '18h00' },
        links: [
          {
            original_filename: 'lot42.zip',
            r2_url: 'https://media.acme.io/dropbox/a/b/lot42.zip',
            direct_url: 'https://www.dropbox.com/scl/fo/abc',
            raw_url: 'https://www.dropbox.com/scl/fo/abc',
            provider: 'dropbox',
          },
        ],
        routingRule: { id: 'vip', name: 'VIP', priority: 'high' },
      }),
    );
    expect(Object.keys(payload)).toEqual([
      ...ORIGINAL_KEYS,
      'detector',
      'delivery_time',
      'webhooks_time_start',
      'webhooks_time_end',
      'delivery_links',
      'email_id',
      'routing_rule',
      'message_id',
      'thread_id',
    ]);
    expect(payload.microsoft_graph_email_id).toBe('18c2f0a1b2c3d4e5');
    expect(Object.keys((payload.delivery_links as object[])[0]!)).toEqual([
      'provider',
      'raw_url',
      'direct_url',
      'r2_url',
      'original_filename',
    ]);
    expect(payload.routing_rule).toEqual({ id: 'vip', name: 'VIP', priority: 'high' });
  });

  it.each<[string, Partial<WebhookPayloadInput>, Record<string, unknown>, string[]]>([
    [
      'DESABO: detector, no delivery_time, no is_urgent',
      { detection: { detector: 'desabonnement_journee_tarifs', is_urgent: true } },
      { detector: 'desabonnement_journee_tarifs' },
      ['delivery_time', 'is_urgent'],
    ],
    ['no detector: no detector key', { detection: { detector: null } }, {}, ['detector', 'delivery_time']],
    ['end only', { window: { webhooks_time_end: '17:00' } }, { webhooks_time_end: '17:00' }, ['webhooks_time_start']],
    [
      'configured start for DESABO before the window',
      { window: { webhooks_time_start: '22:00', webhooks_time_end: '06:00' } },
      { webhooks_time_start: '22:00', webhooks_time_end: '06:00' },
      [],
    ],
    ['no links: no delivery_links key', { links: [] }, {}, ['delivery_links']],
    [
      'links without offload: provider and raw_url only',
      { links: [{ provider: 'fromsmash', raw_url: 'https://fromsmash.com/x' }] },
      { delivery_links: [{ provider: 'fromsmash', raw_url: 'https://fromsmash.com/x' }] },
      [],
    ],
    ['no routing rule, no Gmail ids', {}, {}, ['routing_rule', 'message_id', 'thread_id']],
  ])('%s', (_case, overrides, present, absent) => {
    const payload = buildWebhookPayload(input(overrides));
    expect(payload).toMatchObject(present);
    for (const key of absent) expect(payload).not.toHaveProperty(key);
  });

  it('empty subject and date are sent as empty strings', () => {
    const payload = buildWebhookPayload(input({ email: { ...EMAIL, subject: '', date: '' } }));
    expect(payload).toMatchObject({ subject: '', receivedDateTime: '' });
  });

  it('does not alias the caller’s link objects', () => {
    const links = [{ provider: 'dropbox', raw_url: 'https://www.dropbox.com/s/x' }];
    const payload = buildWebhookPayload(input({ links }));
    expect(payload.delivery_links).toEqual(links);
    expect((payload.delivery_links as object[])[0]).not.toBe(links[0]);
  });
});

describe('bodyPreview', () => {
  it.each([
    ['short', 'abc', 'abc'],
    ['exactly 200', 'x'.repeat(200), 'x'.repeat(200)],
    ['cut at 200', 'x'.repeat(250), 'x'.repeat(200)],
    ['raw HTML kept', `<p>${'é'.repeat(300)}</p>`, `<p>${'é'.repeat(197)}`],
    ['emoji count as one character', '😀'.repeat(250), '😀'.repeat(200)],
    ['an emoji at the cut is not split', `${'x'.repeat(199)}😀😀`, `${'x'.repeat(199)}😀`],
    ['empty', '', ''],
  ])('%s', (_case, body, expected) => {
    expect(bodyPreview(body)).toBe(expected);
  });
});

describe('serializeWebhookPayload', () => {
  it('UTF-8 bytes, non-ASCII unescaped, key order kept', () => {
    const payload = buildWebhookPayload(
      input({
        email: { ...EMAIL, subject: 'Lot ’42’ — été 😀', body: 'x' },
        detection: { detector: 'recadrage', delivery_time: 'le 03/09/2025 à 09h00' },
      }),
    );
    const bytes = serializeWebhookPayload(payload);
    const text = bytes.toString('utf8');
    expect(text).toContain('"subject":"Lot ’42’ — été 😀"');
    expect(text).toContain('"delivery_time":"le 03/09/2025 à 09h00"');
    expect(text).not.toContain('\\u');
    expect(bytes.length).toBe(Buffer.byteLength(text, 'utf8'));
    expect(bytes.length).toBeGreaterThan(text.length); // multi-byte characters
    expect(text.indexOf('"microsoft_graph_email_id"')).toBe(1);
    expect(JSON.parse(text)).toEqual(payload);
  });
});
