import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { startWorld, type World } from '../../../../test/helpers/world';
import { buildHealthDocument, HEALTH_CACHE_MS, healthCache, problemDetails, type HealthFacts } from './health';

const facts = (overrides: Partial<HealthFacts> = {}): HealthFacts => ({
  redisOk: true,
  queues: { email: { waiting: 0, active: 0, delayed: 0, failed: 0 } },
  workers: 1,
  webhook: { error_rate_24h: 0, active_webhooks: 0, last_webhook: null },
  hasTarget: true,
  failingTargets: [],
  settings: { ingressEnabled: true, sendingEnabled: true, absenceToday: false, withinWindow: null, window: {} },
  mailboxes: [],
  targets: [],
  ...overrides,
});
const troubled = (state: string, operator = false) => ({
  id: '0123456789abcdef',
  target: 'https://hook.example.com/***',
  state,
  operator,
  held: 12,
  since: '2026-03-01T09:50:00.000Z',
});
const context = {
  gmailStaleAfterMs: 9 * 60_000,
  gmailPushEnabled: false,
  deadLetterThreshold: 10,
  now: Date.parse('2026-03-01T10:00:00Z'),
  startedAt: 0,
  memoryRssBytes: 0,
};

describe('the /health document (pure)', () => {
  it.each([
    ['all well', facts(), []],
    ['Redis down', facts({ redisOk: false, workers: 0 }), ['redis_unavailable']],
    ['no worker', facts({ workers: 0 }), ['no_workers']],
    ['no target', facts({ hasTarget: false }), ['no_webhook_target']],
    [
      'dead letters over the threshold',
      facts({ queues: { delivery: { waiting: 0, active: 0, delayed: 0, failed: 11 } } }),
      ['dead_letters_growing'],
    ],
    ['a paused target degrades, named', facts({ targets: [troubled('paused')] }), ['target_paused']],
    ['a target paused by an operator: a warning only', facts({ targets: [troubled('paused', true)] }), []],
    ['a failing target: a warning', facts({ targets: [troubled('failing')] }), []],
    ['an alert that could not be sent', facts({ queues: { alert: { waiting: 0, active: 0, delayed: 0, failed: 1 } } }), ['alerts_failing']],
    ['sending disabled: a notice, not degraded', facts({ settings: { ...facts().settings!, sendingEnabled: false } }), []],
  ])('%s → %j', (_label, input, problems) => {
    expect(
      problemDetails(input, context)
        .filter((p) => p.degrades)
        .map((p) => p.code),
    ).toEqual(problems);
    const { httpStatus, body } = buildHealthDocument(input, context);
    expect(body.problems).toEqual(problems);
    expect(body.status).toBe(problems.length ? 'degraded' : 'ok');
    expect(httpStatus).toBe(input.redisOk ? 200 : 503);
    expect(body.timestamp).toBe('2026-03-01T10:00:00.000Z');
  });

  it('lists paused targets (masked) with their held deliveries; a failed alert is not a dead letter', () => {
    const input = facts({
      targets: [troubled('paused'), troubled('failing')],
      queues: { alert: { waiting: 0, active: 0, delayed: 0, failed: 2 } },
    });
    const { body } = buildHealthDocument(input, context);
    expect(body.targets.paused).toEqual([troubled('paused')]);
    expect(body.targets.failing).toHaveLength(1);
    expect(body.alerts).toEqual({ failed: 2 });
    expect(body.metrics.dead_letters).toBe(0);
    const words = problemDetails(input, context).map((p) => p.message);
    expect(words).toContain(
      'La cible https://hook.example.com/*** ne répond plus : elle est en pause, 12 envoi(s) retenu(s), un essai régulier vérifie son retour.',
    );
  });
});

describe('healthCache', () => {
  it('serves one load for the whole period, shares a refresh between concurrent callers, then reloads', async () => {
    let clock = 0;
    let loads = 0;
    const read = healthCache(
      async () => {
        loads += 1;
        await new Promise((r) => setTimeout(r, 10));
        return facts({ workers: loads });
      },
      2_000,
      () => clock,
    );
    const first = await Promise.all([read(), read(), read()]);
    expect(loads).toBe(1);
    expect(first.map((f) => f.workers)).toEqual([1, 1, 1]);
    clock = 1_999;
    expect((await read()).workers).toBe(1);
    clock = 2_000;
    expect((await read()).workers).toBe(2);
    expect(loads).toBe(2);
  });

  it('does not keep a failed load', async () => {
    let calls = 0;
    const read = healthCache(async () => {
      calls += 1;
      if (calls === 1) throw new Error('redis gone');
      return facts();
    });
    await expect(read()).rejects.toThrow('redis gone');
    await expect(read()).resolves.toMatchObject({ redisOk: true });
  });
});

describe('GET /health on a full webhook log (real Redis)', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ workers: false, env: { WEBHOOK_LOG_MAX_ENTRIES: '5000' } });
    const line = (i: number) =>
      JSON.stringify({
        id: i,
        timestamp: new Date().toISOString(),
        type: 'custom',
        email_id: `e${i}`,
        status: i % 10 === 0 ? 'error' : 'success',
        status_code: 200,
        webhook_url: 'https://hooks.example.com/***',
        subject: 'x',
      });
    for (let start = 0; start < 5_000; start += 500)
      await world.apiRedis.rpush(`${world.prefix}:webhook_logs`, ...Array.from({ length: 500 }, (_, k) => line(start + k)));
  });
  afterAll(async () => {
    await world.close();
  });

  it(`reads the webhook log at most once per ${HEALTH_CACHE_MS} ms, not once per call`, async () => {
    const list = jest.spyOn(world.api.webhookLog, 'list');
    const started = Date.now();
    const bodies: Array<{ metrics: { error_rate_24h: number } }> = [];
    for (let i = 0; i < 40; i += 1) bodies.push((await (await fetch(`${world.apiUrl}/health`)).json()) as (typeof bodies)[number]);
    const periods = Math.floor((Date.now() - started) / HEALTH_CACHE_MS) + 1;
    expect(list.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(list.mock.calls.length).toBeLessThanOrEqual(periods);
    expect(bodies.every((b) => b.metrics.error_rate_24h === 10)).toBe(true);
    list.mockRestore();
  });

  it('still follows changes: facts are at most a cache period old', async () => {
    await world.apiRedis.del(`${world.prefix}:webhook_logs`);
    await new Promise((r) => setTimeout(r, HEALTH_CACHE_MS + 50));
    const body = (await (await fetch(`${world.apiUrl}/health`)).json()) as { metrics: { error_rate_24h: number; last_webhook: unknown } };
    expect(body.metrics).toMatchObject({ error_rate_24h: 0, last_webhook: null });
  });
});
