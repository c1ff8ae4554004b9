import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { targetIdOf } from '@render-signal/delivery';
import { operatorRequest, sampleEmail, startWorld, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

const PROBE_MS = 1_000;
const PROBE_MAX_MS = 2_000;

/**
 * Destination health in process (API + workers against real Redis, loopback targets): a target answering 503 is
 * failing, then paused; its deliveries are held (no attempt spent) with one probe per interval; once it answers
 * again everything held is released, each webhook-id delivered once; one alert per transition.
 */
describe('destination health: failing → paused → recovering → healthy', () => {
  let target: WebhookSink;
  let alerts: WebhookSink;
  let world: World;
  beforeAll(async () => {
    target = await startWebhookSink();
    alerts = await startWebhookSink();
    world = await startWorld({
      env: {
        WEBHOOK_URL: target.url,
        TARGET_FAILING_AFTER: '3',
        TARGET_PAUSE_AFTER: '2s',
        TARGET_PROBE_INTERVAL: `${PROBE_MS}ms`,
        TARGET_PROBE_MAX_INTERVAL: `${PROBE_MAX_MS}ms`,
        // A long retry step: without the release, the held deliveries would wait for it.
        DELIVERY_RETRY_SCHEDULE: '200ms,5m,5m',
        ALERT_WEBHOOK_URL: alerts.url,
      },
    });
  }, 30_000);
  afterAll(async () => {
    await world?.close();
    await target.close();
    await alerts.close();
  });

  it('holds while paused, probes once per interval, releases everything on recovery', async () => {
    target.defaultResponse = { status: 503, body: 'maintenance', headers: { 'content-type': 'text/plain' } };
    const ids: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const answer = await world.post(sampleEmail());
      expect(answer.status).toBe(200);
      ids.push(String(answer.json.email_id));
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = () => alerts.received.map((r) => String(r.json?.event));
    await waitUntil(() => events().includes('target.paused'), 20_000, 'target.paused alert');
    // Paused: the target sees at most one request per probe interval (plus those already in flight when it paused).
    await new Promise((r) => setTimeout(r, 1_000));
    const before = target.requests.length;
    const windowStart = Date.now();
    await new Promise((r) => setTimeout(r, 5_000));
    const duringPause = target.requests.length - before;
    expect(duringPause).toBeLessThanOrEqual(Math.ceil((Date.now() - windowStart) / PROBE_MS) + 1);
    expect(duringPause).toBeGreaterThanOrEqual(1); // probes went out

    const held = await world.workerRedis.zcard(`${world.prefix}:target:${targetIdOf(target.url)}:held`);
    expect(held).toBeGreaterThan(0);
    target.defaultResponse = { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } };
    const recoveredAt = Date.now();
    await waitUntil(
      () => new Set(target.received.map((r) => String(r.json?.email_id))).size >= ids.length,
      PROBE_MAX_MS + 15_000,
      'every email delivered after the recovery',
    );
    expect(Date.now() - recoveredAt).toBeLessThan(PROBE_MAX_MS + 15_000);
    // Exactly once per webhook-id, and the same webhook-id as the failed attempts.
    const delivered = target.received.map((r) => String(r.headers['webhook-id']));
    expect(new Set(delivered).size).toBe(delivered.length);
    const failedIds = new Set(target.requests.filter((r) => !target.received.includes(r)).map((r) => String(r.headers['webhook-id'])));
    for (const id of failedIds) expect(delivered).toContain(id);

    await waitUntil(() => events().includes('target.recovered'), 10_000, 'target.recovered alert');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(events().filter((e) => e === 'target.failing')).toHaveLength(1);
    expect(events().filter((e) => e === 'target.paused')).toHaveLength(1);
    expect(events().filter((e) => e === 'target.recovered')).toHaveLength(1);
    const paused = alerts.received.find((r) => r.json?.event === 'target.paused')!;
    expect(paused.json).toMatchObject({ state: 'paused', target: expect.not.stringContaining('/hook') });
    expect(String(paused.json?.text)).toContain('est en pause');
    expect(paused.headers['webhook-id']).toBeDefined();
    // Nothing dead-lettered; the target is healthy again once nothing is held.
    expect(await world.deliveryProducer.queue.getFailedCount()).toBe(0);
    await waitUntil(
      async () => (await world.workerRedis.get(`${world.prefix}:target:${targetIdOf(target.url)}`))?.includes('"healthy"') ?? false,
      10_000,
      'healthy again',
    );
  }, 90_000);

  it('operator: pause holds, discard dead-letters the held ones (replayable), resume releases; bad ids and actions refused', async () => {
    const id = targetIdOf(target.url);
    target.defaultResponse = { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } };
    expect(await operatorRequest(world, 'POST', '/api/targets/0123456789abcdef/pause')).toMatchObject({
      status: 404,
      json: { code: 'target_not_found' },
    });
    expect((await operatorRequest(world, 'POST', `/api/targets/${id}/discard`)).json).toMatchObject({ code: 'target_not_paused' });
    // Without the CSRF header: refused like every operator write.
    const noCsrf = await fetch(`${world.apiUrl}/api/targets/${id}/pause`, { method: 'POST' });
    expect(noCsrf.status).toBeGreaterThanOrEqual(401);

    const paused = await operatorRequest(world, 'POST', `/api/targets/${id}/pause`);
    expect(paused).toMatchObject({ status: 200, json: { target: { state: 'paused', operator: true } } });
    const deliveredBefore = target.received.length;
    const first: string[] = [];
    for (let i = 0; i < 3; i += 1) first.push(String((await world.post(sampleEmail())).json.email_id));
    const heldKey = `${world.prefix}:target:${id}:held`;
    await waitUntil(async () => (await world.workerRedis.zcard(heldKey)) === 3, 10_000, 'three held');
    // Each held email's journey says so (« retenu : cible en pause » in the dashboard).
    await waitUntil(
      async () => {
        const answer = await operatorRequest(world, 'GET', `/api/emails/${first[0]}`);
        const targets = (answer.json.journey as { targets?: Array<{ held_since: string | null }> } | undefined)?.targets ?? [];
        return targets.some((t) => t.held_since !== null);
      },
      10_000,
      'journey shows the hold',
    );
    const listed = await operatorRequest(world, 'GET', '/api/targets');
    expect((listed.json.targets as Array<Record<string, unknown>>).find((t) => t.id === id)).toMatchObject({
      state: 'paused',
      held: 3,
      next_probe_at: null,
    });
    const health = (await (await fetch(`${world.apiUrl}/health`)).json()) as { targets: { paused: Array<{ id: string; held: number }> } };
    expect(health.targets.paused).toEqual([expect.objectContaining({ id, held: 3 })]);

    const discarded = await operatorRequest(world, 'POST', `/api/targets/${id}/discard`);
    expect(discarded).toMatchObject({ status: 200, json: { message: expect.stringContaining('3 envoi(s) retenu(s) abandonné(s)') } });
    await waitUntil(async () => (await world.deliveryProducer.queue.getFailedCount()) === 3, 15_000, 'three dead letters');
    const failed = await world.deliveryProducer.queue.getFailed();
    expect(failed.map((j) => j.failedReason)).toEqual(['discarded_by_operator', 'discarded_by_operator', 'discarded_by_operator']);
    expect(target.received.length).toBe(deliveredBefore);
    // Counted for the next dead-letter digest (per masked target and reason).
    const digest = await world.workerRedis.hgetall(`${world.prefix}:alerts:digest`);
    expect(Object.entries(digest).find(([field]) => field.endsWith('\tdiscarded_by_operator'))?.[1]).toBe('3');

    // Held again while paused, then resumed: released and delivered.
    const second = String((await world.post(sampleEmail())).json.email_id);
    await waitUntil(async () => (await world.workerRedis.zcard(heldKey)) === 1, 10_000, 'one held');
    expect((await operatorRequest(world, 'POST', `/api/targets/${id}/resume`)).json).toMatchObject({ target: { state: 'recovering' } });
    await waitUntil(() => target.received.some((r) => r.json?.email_id === second), 10_000, 'released after resume');
    await waitUntil(
      async () => {
        const answer = await operatorRequest(world, 'GET', `/api/emails/${second}`);
        const targets =
          (answer.json.journey as { targets?: Array<{ held_since: string | null; state: string }> } | undefined)?.targets ?? [];
        return targets.length > 0 && targets.every((t) => t.held_since === null && t.state === 'delivered');
      },
      10_000,
      'journey: delivered, no longer held',
    );
    // The discarded ones are ordinary dead letters: replayed, they are delivered.
    for (const job of failed) await job.retry('failed');
    await waitUntil(() => first.every((e) => target.received.some((r) => r.json?.email_id === e)), 10_000, 'replayed');
    const events = alerts.received.map((r) => String(r.json?.event));
    expect(events.filter((e) => e === 'target.paused')).toHaveLength(2); // the outage's and the operator's
  }, 60_000);
});

describe('destination health: a delivery held past TARGET_HOLD_MAX', () => {
  let target: WebhookSink;
  let world: World;
  beforeAll(async () => {
    target = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: target.url, TARGET_HOLD_MAX: '2s' } });
  }, 30_000);
  afterAll(async () => {
    await world?.close();
    await target.close();
  });

  it('is dead-lettered with target_paused_too_long (replayable) while the target stays paused', async () => {
    await world.post(sampleEmail());
    await target.waitFor(1);
    const id = targetIdOf(target.url);
    await waitUntil(async () => (await operatorRequest(world, 'POST', `/api/targets/${id}/pause`)).status === 200, 10_000, 'paused');
    const emailId = String((await world.post(sampleEmail())).json.email_id);
    await waitUntil(async () => (await world.deliveryProducer.queue.getFailedCount()) === 1, 15_000, 'dead-lettered after the hold');
    const [dead] = await world.deliveryProducer.queue.getFailed();
    expect(dead).toMatchObject({ failedReason: 'target_paused_too_long', data: expect.objectContaining({ email_id: emailId }) });
    expect(target.requests).toHaveLength(1); // nothing was sent to the paused target
  }, 40_000);
});
