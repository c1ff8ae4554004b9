import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PROCESSING_PREFS, DEFAULT_RUNTIME_FLAGS, DEFAULT_WEBHOOK_CONFIG } from '@render-signal/contracts';
import type { Settings } from '@render-signal/config-store';
import { DEFAULT_PROVIDERS } from '@render-signal/detectors';
import { normalizeRules } from '@render-signal/routing';
import { buildDeliveries, planEmail, type PlanContext } from './plan-email';
import { storedRouteSchema, type StoredRoute } from './stored-route';

const LINK = 'https://www.dropbox.com/scl/fo/abc/file.zip?dl=0';
const meta = { _updated_at: null, _revision: 0 };
const NOW = new Date('2026-03-10T10:00:00Z'); // 11:00 in Paris

function settings(overrides: { prefs?: object; webhook?: object; flags?: object; rules?: unknown[] } = {}): Settings {
  const rules = normalizeRules(overrides.rules ?? [], { allowPrivateNetwork: true });
  if (!rules.ok) throw new Error(rules.message);
  return {
    webhook_config: { ...DEFAULT_WEBHOOK_CONFIG, ...meta, ...overrides.webhook },
    processing_prefs: { ...DEFAULT_PROCESSING_PREFS, ...meta, ...overrides.prefs },
    runtime_flags: { ...DEFAULT_RUNTIME_FLAGS, ...meta, ...overrides.flags },
    routing_rules: { rules: rules.rules, ...meta },
  } as Settings;
}

function ctx(s: Settings, extra: Partial<PlanContext> = {}): PlanContext {
  return {
    settings: s,
    providers: DEFAULT_PROVIDERS,
    timeZone: 'Europe/Paris',
    defaultTarget: 'https://hooks.render-signal.test/default',
    timeWindow: {},
    defaultTimeoutMs: 30_000,
    fieldScanLimit: 256 * 1024,
    now: NOW,
    ...extra,
  };
}

const email = (overrides: Record<string, string> = {}) => ({
  email_id: 'id-1',
  email: { subject: 'Hello', sender: 'Alice <alice@example.org>', date: '2026-03-10', body: `<p>${LINK}</p>`, ...overrides },
});

describe('planEmail skips', () => {
  it.each([
    [
      'a body over max_email_size_mb',
      email({ body: `${'x'.repeat(1_100_000)} ${LINK}` }),
      settings({ prefs: { max_email_size_mb: 1 } }),
      'too_large',
      true,
    ],
    [
      'a global exclude keyword (accents and case folded)',
      email({ subject: 'PUBLICITÉ du jour' }),
      settings({ prefs: { exclude_keywords: ['publicite'] } }),
      'excluded_keyword',
      true,
    ],
    ['no links', email({ body: '<p>rien</p>' }), settings(), 'no_delivery_links', true],
    [
      'no links with require_attachments, even when allowed',
      email({ body: '<p>rien</p>' }),
      settings({ prefs: { require_attachments: true }, flags: { allow_custom_webhook_without_links: true } }),
      'no_attachments',
      true,
    ],
  ])('%s', (_label, job, s, reason, marked) => {
    const plan = planEmail(job, ctx(s));
    expect(plan.skip).toMatchObject({ reason, markProcessed: marked });
  });

  it('logs the no-link skip as the original did', () => {
    const plan = planEmail(email({ body: 'rien' }), ctx(settings()));
    expect(plan.skip?.webhookLog).toEqual({
      status: 'skipped',
      status_code: 204,
      error_message: 'No delivery links detected; skipping per config',
    });
  });

  it('applies the recadrage-only exclude list to recadrage emails only', () => {
    const s = settings({ prefs: { exclude_keywords_recadrage: ['lot 7'] } });
    const reca = email({ subject: 'Média Solution - Missions Recadrage - Lot 7', body: `à faire pour 14h ${LINK}` });
    expect(planEmail(reca, ctx(s)).skip?.reason).toBe('excluded_keyword');
    expect(planEmail(email({ subject: 'lot 7 other' }), ctx(s)).skip).toBeUndefined();
  });

  it('fails visibly with no target', () => {
    const plan = planEmail(email(), ctx(settings(), { defaultTarget: null }));
    expect(plan.skip).toMatchObject({
      reason: 'no_target',
      markProcessed: false,
      webhookLog: { status: 'error', failure_reason: 'no_target' },
    });
  });

  it.each([
    ['recadrage: skipped and marked', { subject: 'Média Solution - Missions Recadrage - Lot 1', body: `à faire pour 14h ${LINK}` }, true],
    ['no detector: skipped, not marked', { subject: 'hello' }, false],
  ])('outside the window, %s', (_label, overrides, marked) => {
    const plan = planEmail(email(overrides), ctx(settings(), { timeWindow: { start: '22:00', end: '23:00' } }));
    expect(plan.skip).toMatchObject({ reason: 'outside_time_window', markProcessed: marked });
  });
});

describe('planEmail routes', () => {
  const rule = (id: string, url: string, extra: object = {}) => ({
    id,
    name: id,
    conditions: [{ field: 'subject', operator: 'contains', value: 'facture', case_sensitive: false }],
    actions: { webhook_url: url, priority: 'high', stop_processing: false },
    ...extra,
  });

  it('sends to the default target with the webhook settings', () => {
    const plan = planEmail(
      email(),
      ctx(settings({ webhook: { webhook_delivery_mode: 'form', webhook_ssl_verify: false }, prefs: { webhook_timeout_sec: 12 } })),
    );
    expect(plan.skip).toBeUndefined();
    expect(plan.targets).toEqual([
      expect.objectContaining({
        priority: 5,
        target: {
          url: 'https://hooks.render-signal.test/default',
          origin: 'default',
          mode: 'form',
          fallback_on_415: true,
          tls_verify: false,
          require_success_flag: false,
          timeout_ms: 12_000,
        },
      }),
    ]);
    expect(plan.window).toEqual({});
  });

  it('adds matching rules before the default, high priority first', () => {
    const plan = planEmail(email({ subject: 'Facture 42' }), ctx(settings({ rules: [rule('r1', 'https://hooks.render-signal.test/r1')] })));
    expect(plan.targets?.map((t) => [t.target.origin, t.priority])).toEqual([
      ['rule:r1', 1],
      ['default', 5],
    ]);
  });

  it('gives sender_priority to every delivery of that sender', () => {
    const plan = planEmail(email(), ctx(settings({ prefs: { sender_priority: { 'alice@example.org': 'low' } } })));
    expect(plan.targets?.[0]?.priority).toBe(5);
    const high = planEmail(email(), ctx(settings({ prefs: { sender_priority: { 'alice@example.org': 'high' } } })));
    expect(high.targets?.[0]?.priority).toBe(1);
  });

  it('builds one payload per target, naming the rule that chose it', () => {
    const job = email({ subject: 'facture 1' });
    const plan = planEmail(
      job,
      ctx(
        settings({
          rules: [
            rule('r1', 'https://hooks.render-signal.test/r1', {
              actions: { webhook_url: 'https://hooks.render-signal.test/r1', priority: 'normal', stop_processing: true },
            }),
          ],
        }),
      ),
    );
    if (plan.skip) throw new Error('unexpected skip');
    const deliveries = buildDeliveries(job, plan, plan.links);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.payload).toMatchObject({
      microsoft_graph_email_id: 'id-1',
      routing_rule: { id: 'r1', name: 'r1', priority: 'normal' },
      delivery_links: [{ provider: 'dropbox', raw_url: LINK }],
    });
    expect(deliveries[0]!.webhookId).toMatch(/^msg_[0-9a-f]{32}$/);
  });
});

describe('planEmail: detectors and keywords read at most fieldScanLimit of each field', () => {
  const LIMIT = 4096;
  const padding = 'x'.repeat(2 * LIMIT);
  it('an exclude keyword past the limit does not exclude; inside it does', () => {
    const s = settings({ prefs: { exclude_keywords: ['publicite'] } });
    const late = email({ body: `${LINK} ${padding} publicité` });
    expect(planEmail(late, ctx(s)).skip?.reason).toBe('excluded_keyword');
    expect(planEmail(late, ctx(s, { fieldScanLimit: LIMIT })).skip).toBeUndefined();
    expect(planEmail(email({ body: `publicité ${LINK} ${padding}` }), ctx(s, { fieldScanLimit: LIMIT })).skip?.reason).toBe(
      'excluded_keyword',
    );
  });

  it('the recadrage delivery time past the limit is not read', () => {
    const subject = 'Média Solution - Missions Recadrage - Lot 3';
    const late = email({ subject, body: `${LINK} ${padding} à faire pour 14h` });
    expect(planEmail(late, ctx(settings())).detection).toEqual({ detector: 'recadrage', delivery_time: '14h00' });
    expect(planEmail(late, ctx(settings(), { fieldScanLimit: LIMIT })).detection).toEqual({ detector: null });
  });

  it('links are still taken from the whole body', () => {
    const plan = planEmail(email({ body: `${padding} ${LINK}` }), ctx(settings(), { fieldScanLimit: LIMIT }));
    expect(plan.skip).toBeUndefined();
    expect(plan.links?.map((l) => l.raw_url)).toEqual([LINK]);
  });

  it('reports the detectors and rules steps to the measure hook', () => {
    const steps: string[] = [];
    planEmail(email(), ctx(settings(), { measure: (step, run) => (steps.push(step), run()) }));
    expect(steps).toEqual(['detectors', 'detectors', 'rules']);
  });
});

describe('storedRouteSchema (the route an email job saves while its offloads run)', () => {
  const rules = [
    {
      id: 'vip',
      name: 'VIP',
      conditions: [{ field: 'subject', operator: 'contains', value: 'lot', case_sensitive: false }],
      actions: { webhook_url: 'https://hooks.render-signal.test/vip', priority: 'high', stop_processing: false },
    },
  ];
  it('a planned route survives the JSON round trip through the job data, unchanged', () => {
    const plan = planEmail(email({ subject: 'Lot 42' }), ctx(settings({ rules })));
    if (plan.skip) throw new Error('expected a route');
    const { routing: _routing, ...decided } = plan;
    const stored: StoredRoute = { ...decided, retry: { attempts: 3, floorMs: 60_000 } };
    expect(stored.targets.some((t) => t.route.rule?.id === 'vip')).toBe(true);
    expect(storedRouteSchema.parse(JSON.parse(JSON.stringify(stored)))).toEqual(stored);
  });
  it.each([
    ['no retry', (r: Record<string, unknown>) => ({ ...r, retry: undefined })],
    ['an unknown detector', (r: Record<string, unknown>) => ({ ...r, detection: { detector: 'other' } })],
    [
      'a target without url',
      (r: Record<string, unknown>) => ({ ...r, targets: [{ route: { origin: 'default', priority: 'normal' }, priority: 5 }] }),
    ],
    [
      'an origin that is neither default nor a rule',
      (r: Record<string, unknown>) => ({
        ...r,
        targets: [{ ...(r.targets as object[])[0], route: { url: 'x', origin: 'elsewhere', priority: 'normal' } }],
      }),
    ],
  ])('refuses %s', (_name, corrupt) => {
    const plan = planEmail(email(), ctx(settings()));
    if (plan.skip) throw new Error('expected a route');
    const { routing: _routing, ...decided } = plan;
    expect(storedRouteSchema.safeParse(corrupt({ ...decided, retry: { attempts: 2 } })).success).toBe(false);
  });
});

describe('extraction and payload formats in the plan', () => {
  const rules = [
    {
      id: 'factures',
      name: 'Factures',
      conditions: [{ field: 'subject', operator: 'regex', value: 'facture\\s+(?<numero>\\d{4})' }],
      actions: { webhook_url: 'https://hooks.render-signal.test/factures', payload: { format: 'flat' } },
    },
  ];
  it('carries extracted and each target format to its delivery; the standard default stays as before', () => {
    const plan = planEmail(email({ subject: 'Votre facture 2026' }), ctx(settings({ rules })));
    if (plan.skip) throw new Error('expected a route');
    expect(plan.extracted).toEqual({ numero: '2026' });
    const deliveries = buildDeliveries(email({ subject: 'Votre facture 2026' }), plan, plan.links);
    expect(deliveries.map((d) => [d.target.origin, d.format, d.extracted])).toEqual([
      ['rule:factures', { format: 'flat' }, { numero: '2026' }],
      ['default', undefined, { numero: '2026' }],
    ]);
    // The standard body never carries `extracted`: the kept contract.
    expect(deliveries.every((d) => !('extracted' in d.payload))).toBe(true);
    const { routing: _routing, ...decided } = plan;
    const stored: StoredRoute = { ...decided, retry: { attempts: 3 } };
    expect(storedRouteSchema.parse(JSON.parse(JSON.stringify(stored)))).toEqual(stored);
  });

  it('gives the default target the webhook_config payload', () => {
    const template = '{ "s": subject }';
    const plan = planEmail(email(), ctx(settings({ webhook: { payload: { format: 'template', template } } })));
    if (plan.skip) throw new Error('expected a route');
    expect(buildDeliveries(email(), plan, plan.links).map((d) => d.format)).toEqual([{ format: 'template', template }]);
  });
});
