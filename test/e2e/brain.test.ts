import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { silentLogger } from '@render-signal/observability';
import { decideWindowOutcome } from '@render-signal/routing';
import { createRedisConnection } from '@render-signal/queue';
import { startWorkers, type RunningWorkers } from '../../apps/worker/src/worker';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { operatorRequest, sampleEmail, startWorld, waitUntil, type World } from '../helpers/world';

const PARIS = 'Europe/Paris';
/** HH:MM in Paris, `minutes` from now. */
function parisClock(minutesFromNow: number): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: PARIS, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    new Date(Date.now() + minutesFromNow * 60_000),
  );
  return parts;
}
function parisWeekday(): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: PARIS, weekday: 'long' }).format(new Date()).toLowerCase();
}

const LINK = 'https://www.dropbox.com/scl/fo/abc123/file.zip?dl=0';
const recadrage = () =>
  sampleEmail({
    subject: `Média Solution - Missions Recadrage - Lot ${Math.floor(Math.random() * 1e6)}`,
    body: `<p>à faire pour 14h30</p><a href="${LINK}">lien</a>`,
  });
const desabo = (urgent: boolean) =>
  sampleEmail({
    subject: `${urgent ? 'URGENT ' : ''}Désabonnement ${Math.random()}`,
    body: `<p>Bonjour, je souhaite me désabonner de la journée aux tarifs habituels. ${LINK}</p>`,
  });

/** Issue 3 through the real ingress and workers: routing, windows, policies, live config. */
describe('the email brain, end to end', () => {
  let defaultSink: WebhookSink;
  let ruleSink: WebhookSink;
  let world: World;
  let secondWorker: RunningWorkers;
  const extraConnections: Array<{ disconnect(): void }> = [];

  beforeAll(async () => {
    defaultSink = await startWebhookSink();
    ruleSink = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: defaultSink.url } });
    // A second worker process' worth of consumers on the same queues: config changes must reach both.
    const redis = createRedisConnection({ url: world.redisUrl, profile: 'worker', name: 'test-worker-2', logger: silentLogger });
    extraConnections.push(redis);
    secondWorker = await startWorkers({ env: world.workerEnv, logger: silentLogger, redis });
  });
  afterEach(async () => {
    await operatorRequest(world, 'POST', '/api/routing_rules', { rules: [] });
    await operatorRequest(world, 'POST', '/api/webhooks/config', {
      webhook_time_start: '',
      webhook_time_end: '',
      absence_pause_enabled: false,
      absence_pause_days: [],
      webhook_sending_enabled: true,
    });
    await operatorRequest(world, 'POST', '/api/update_runtime_flags', {
      gmail_ingress_enabled: true,
      allow_custom_webhook_without_links: false,
    });
    for (const sink of [defaultSink, ruleSink]) {
      sink.received.length = 0;
      sink.requests.length = 0;
    }
  });
  afterAll(async () => {
    await secondWorker.close();
    for (const c of extraConnections) c.disconnect();
    await world.close();
    await defaultSink.close();
    await ruleSink.close();
  });

  const rule = (overrides: Record<string, unknown> = {}) => ({
    id: 'clientx',
    name: 'Client X',
    conditions: [{ field: 'subject', operator: 'contains', value: 'facture', case_sensitive: false }],
    actions: { webhook_url: ruleSink.url, priority: 'high', stop_processing: true },
    ...overrides,
  });

  it('a matching rule with stop_processing sends only to its target, naming the rule in the payload', async () => {
    expect((await operatorRequest(world, 'POST', '/api/routing_rules', { rules: [rule()] })).status).toBe(200);
    await world.post(sampleEmail({ subject: 'Facture 2026 client X' }));
    const [hook] = await ruleSink.waitFor(1);
    expect(hook!.json!.routing_rule).toEqual({ id: 'clientx', name: 'Client X', priority: 'high' });
    await new Promise((r) => setTimeout(r, 300));
    expect(defaultSink.requests).toHaveLength(0);
  });

  it('without stop_processing the rule target and the default both receive it', async () => {
    await operatorRequest(world, 'POST', '/api/routing_rules', {
      rules: [rule({ actions: { webhook_url: ruleSink.url, priority: 'normal', stop_processing: false } })],
    });
    await world.post(sampleEmail({ subject: 'facture 12' }));
    await ruleSink.waitFor(1);
    const [hook] = await defaultSink.waitFor(1);
    expect(hook!.json!.routing_rule).toBeUndefined();
  });

  it('a rule change applies to the very next email, in every worker process', async () => {
    // Warm both processes' config caches with the old (empty) rule set.
    await world.post(sampleEmail({ subject: 'facture before the rule' }));
    await defaultSink.waitFor(1);
    await operatorRequest(world, 'POST', '/api/routing_rules', { rules: [rule()] });
    const emailWorkerA = world.workers!.workers[0]!;
    const emailWorkerB = secondWorker.workers[0]!;
    // Only B consumes, then only A: each must apply the new rule to its very next email.
    await emailWorkerA.pause();
    await world.post(sampleEmail({ subject: 'facture for B' }));
    await ruleSink.waitFor(1);
    await emailWorkerA.resume();
    await emailWorkerB.pause();
    await world.post(sampleEmail({ subject: 'facture for A' }));
    await ruleSink.waitFor(2);
    await emailWorkerB.resume();
    expect(ruleSink.received.map((r) => r.json!.subject)).toEqual(['facture for B', 'facture for A']);
    await new Promise((r) => setTimeout(r, 300));
    expect(defaultSink.requests).toHaveLength(1);
  });

  it('skips an email without delivery links and logs it as 204, unless the flag allows it', async () => {
    const res = await world.post(sampleEmail({ body: '<p>pas de lien ici</p>' }));
    await waitUntil(
      async () => {
        const logs = (await operatorRequest(world, 'GET', '/api/webhook_logs?days=1')).json.logs as Array<{
          email_id: string;
          status: string;
        }>;
        return logs.some((l) => l.email_id === res.json.email_id);
      },
      5_000,
      'skip logged',
    );
    const logs = (await operatorRequest(world, 'GET', '/api/webhook_logs?days=1')).json.logs as Array<Record<string, unknown>>;
    expect(logs.find((l) => l.email_id === res.json.email_id)).toMatchObject({
      status: 'skipped',
      status_code: 204,
      error_message: 'No delivery links detected; skipping per config',
    });
    expect(defaultSink.requests).toHaveLength(0);

    await operatorRequest(world, 'POST', '/api/update_runtime_flags', { allow_custom_webhook_without_links: true });
    await world.post(sampleEmail({ body: '<p>toujours pas de lien</p>' }));
    const [hook] = await defaultSink.waitFor(1);
    expect(hook!.json!.delivery_links).toBeUndefined();
  });

  it('applies the per-detector outcomes outside the time window', async () => {
    const start = parisClock(120);
    const end = parisClock(180);
    expect((await operatorRequest(world, 'POST', '/api/webhooks/time-window', { start, end })).status).toBe(200);

    const reca = recadrage();
    await world.post(reca);
    const desaboUrgent = desabo(true);
    await world.post(desaboUrgent);
    await world.post(sampleEmail({ subject: 'plain email outside the window' }));
    await world.post(desabo(false));

    // Only the non-urgent DESABO goes out; it carries the configured start when now is before it (not after a wrap).
    const [hook] = await defaultSink.waitFor(1);
    expect(hook!.json).toMatchObject({ detector: 'desabonnement_journee_tarifs', webhooks_time_end: end });
    const expected = decideWindowOutcome({ detector: 'desabonnement_journee_tarifs', is_urgent: false }, { start, end }, new Date(), PARIS);
    expect(hook!.json!.webhooks_time_start).toBe(expected.webhooks_time_start);
    await new Promise((r) => setTimeout(r, 500));
    expect(defaultSink.requests).toHaveLength(1);

    // Recadrage was marked processed; urgent DESABO was not (a re-send is queued again).
    expect((await world.post(reca)).json.status).toBe('already_processed');
    expect((await world.post(desaboUrgent)).json.status).toBe('queued');
  });

  it('sends recadrage inside the window with "maintenant" and its delivery time', async () => {
    await operatorRequest(world, 'POST', '/api/webhooks/time-window', { start: parisClock(-60), end: parisClock(60) });
    await world.post(recadrage());
    const [hook] = await defaultSink.waitFor(1);
    expect(hook!.json).toMatchObject({ detector: 'recadrage', delivery_time: '14h30', webhooks_time_start: 'maintenant' });
  });

  it('answers 409 on an absence day and when sending or ingress is disabled', async () => {
    await operatorRequest(world, 'POST', '/api/webhooks/config', { absence_pause_enabled: true, absence_pause_days: [parisWeekday()] });
    expect(await world.post(sampleEmail())).toMatchObject({ status: 409, json: { success: false, message: 'Webhook sending disabled' } });
    await operatorRequest(world, 'POST', '/api/webhooks/config', {
      absence_pause_enabled: false,
      absence_pause_days: [],
      webhook_sending_enabled: false,
    });
    expect(await world.post(sampleEmail())).toMatchObject({ status: 409, json: { message: 'Webhook sending disabled' } });
    await operatorRequest(world, 'POST', '/api/webhooks/config', { webhook_sending_enabled: true });
    await operatorRequest(world, 'POST', '/api/update_runtime_flags', { gmail_ingress_enabled: false });
    expect(await world.post(sampleEmail())).toMatchObject({
      status: 409,
      json: { message: 'Gmail ingress disabled', code: 'ingress_disabled' },
    });
  });
});

describe('sender allowlist', () => {
  it('skips senders not on GMAIL_SENDER_ALLOWLIST without queuing', async () => {
    const sink = await startWebhookSink();
    const world = await startWorld({ env: { WEBHOOK_URL: sink.url, GMAIL_SENDER_ALLOWLIST: 'boss@example.org, Other@Example.org' } });
    try {
      const refused = await world.post(sampleEmail({ sender: 'Mallory <mallory@evil.test>' }));
      expect(refused).toMatchObject({ status: 200, json: { success: true, status: 'skipped_sender_not_allowed' } });
      const allowed = await world.post(sampleEmail({ sender: 'Other <other@example.org>' }));
      expect(allowed.json.status).toBe('queued');
      await sink.waitFor(1);
      await new Promise((r) => setTimeout(r, 300));
      expect(sink.received).toHaveLength(1);
    } finally {
      await world.close();
      await sink.close();
    }
  });
});
