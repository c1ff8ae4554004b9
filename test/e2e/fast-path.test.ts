import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { webhookIdFor } from '@render-signal/delivery';
import type { Logger } from '@render-signal/observability';
import { replayFailedJobs } from '@render-signal/queue';
import { operatorRequest, sampleEmail, startWorld, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

interface Line {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

/** A Logger that keeps every line (with its child fields), to count an email's lines. */
function recordingLogger(lines: Line[], bound: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (event: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, event, fields: { ...bound, ...fields } });
  return {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    child: (f) => recordingLogger(lines, { ...bound, ...f }),
  };
}

/**
 * The fast path: an email with one target and nothing to offload is delivered by its email job; a delivery
 * job appears only when that first attempt fails (same webhook-id, its own retry state) or for a fan-out.
 */
describe('delivery fast path (one target, no offload)', () => {
  let sink: WebhookSink;
  let other: WebhookSink;
  let world: World;
  const lines: Line[] = [];
  beforeAll(async () => {
    sink = await startWebhookSink();
    other = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: sink.url, LOG_LEVEL: 'info' }, logger: recordingLogger(lines) });
  });
  afterEach(() => {
    for (const s of [sink, other]) {
      s.received.length = 0;
      s.requests.length = 0;
      s.script.length = 0;
    }
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
    await other.close();
  });
  /** The email's completed email job (the ingress answer names the email, not its job). */
  const emailJob = async (emailId: string) => {
    const find = async () => (await world.emailProducer.queue.getCompleted(0, 200)).find((j) => j.data?.email_id === emailId);
    await waitUntil(async () => (await find()) !== undefined, 10_000, 'email job completed');
    return (await find())!;
  };
  const webhookLog = async (emailId: string) =>
    ((await operatorRequest(world, 'GET', '/api/webhook_logs?days=1&limit=200')).json.logs as Array<Record<string, unknown>>).filter(
      (e) => e.email_id === emailId,
    );

  it('delivers inside the email job: no delivery job, the stable webhook-id, one info line for the email', async () => {
    const res = await world.post(sampleEmail());
    const emailId = String(res.json.email_id);
    const [hook] = await sink.waitFor(1);
    expect(hook!.headers['webhook-id']).toBe(webhookIdFor(emailId, sink.url));
    const job = await emailJob(emailId);
    // What was sent is in the email's journey (its `sent` event), not in the kept email job.
    expect(job.returnvalue).toEqual({ deliveries: 1, fast_path: 'delivered' });
    await waitUntil(async () => (await world.api.journeys.store.events(emailId)) !== null, 5_000, 'journey written');
    const sent = (await world.api.journeys.store.events(emailId))!.events.find((e) => e.type === 'sent');
    expect(sent).toMatchObject({ webhook_id: hook!.headers['webhook-id'], target: { url: sink.url } });
    expect(JSON.stringify((sent as { payload: unknown }).payload)).toBe(hook!.body);
    expect(await world.deliveryProducer.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed')).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      prioritized: 0,
      completed: 0,
      failed: 0,
    });
    await waitUntil(async () => (await webhookLog(emailId)).length === 1, 5_000, 'webhook log entry');
    expect((await webhookLog(emailId))[0]).toMatchObject({
      status: 'success',
      status_code: 200,
      attempt: 1,
      final: true,
      webhook_id: hook!.headers['webhook-id'],
    });
    // The worker's lines (the in-process API logs its own `ingress.accepted`).
    const infoLines = lines.filter((l) => l.fields.email_id === emailId && l.level === 'info' && !l.event.startsWith('ingress.'));
    expect(infoLines.map((l) => l.event)).toEqual(['delivery.succeeded']);
    expect(infoLines[0]!.fields).toMatchObject({ path: 'fast', status: 200, webhook_id: hook!.headers['webhook-id'] });
  });

  it('a failed first attempt becomes a delivery job with the same webhook-id, which retries and delivers', async () => {
    sink.script.push({ status: 503, body: 'busy', headers: { 'retry-after': '0' } });
    const res = await world.post(sampleEmail());
    const emailId = String(res.json.email_id);
    const [hook] = await sink.waitFor(1, 10_000);
    const webhookId = webhookIdFor(emailId, sink.url);
    expect(sink.requests.map((r) => r.headers['webhook-id'])).toEqual([webhookId, webhookId]);
    expect(hook!.headers['webhook-id']).toBe(webhookId);
    expect((await emailJob(emailId)).returnvalue).toEqual({ deliveries: 1, fast_path: 'handed_over' });
    await waitUntil(
      async () => (await world.deliveryProducer.queue.getJobState(webhookId)) === 'completed',
      10_000,
      'delivery job completed',
    );
    const delivery = (await world.deliveryProducer.queue.getJob(webhookId))!;
    expect(delivery.attemptsMade).toBe(2); // the fast path's attempt counts in the job's own retry state, then its own
    expect(delivery.data.first_attempt).toBeUndefined();
    const { logs } = await world.deliveryProducer.queue.getJobLogs(webhookId);
    expect(logs.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'retrying', status: 503, path: 'fast', failure_reason: 'upstream_server_error' }),
      expect.objectContaining({ attempt: 2, outcome: 'delivered', status: 200 }),
    ]);
    await waitUntil(async () => (await webhookLog(emailId)).length === 2, 5_000, 'two webhook log entries');
    expect((await webhookLog(emailId)).map((e) => [e.attempt, e.status, e.final])).toEqual([
      [2, 'success', true],
      [1, 'error', false],
    ]);
  });

  it('a permanent failure on the fast path is dead-lettered without a second request, and a replay sends again', async () => {
    sink.script.push({ status: 410, body: 'gone' });
    const res = await world.post(sampleEmail());
    const webhookId = webhookIdFor(String(res.json.email_id), sink.url);
    await waitUntil(async () => (await world.deliveryProducer.queue.getJobState(webhookId)) === 'failed', 10_000, 'dead letter');
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.requests).toHaveLength(1);
    const dead = (await world.deliveryProducer.queue.getJob(webhookId))!;
    expect(dead.attemptsMade).toBe(1);
    expect(dead.failedReason).toMatch(/HTTP 410/);
    expect(await replayFailedJobs(world.deliveryProducer.queue, { ids: [webhookId] })).toBe(1);
    const [hook] = await sink.waitFor(1, 10_000);
    expect(hook!.headers['webhook-id']).toBe(webhookId);
  });

  it('a fan-out (two targets) still uses one delivery job per target', async () => {
    const saved = await operatorRequest(world, 'POST', '/api/routing_rules', {
      rules: [
        {
          name: 'copy',
          conditions: [{ field: 'subject', operator: 'contains', value: 'fan-out' }],
          actions: { webhook_url: other.url, priority: 'normal', stop_processing: false },
        },
      ],
    });
    expect(saved.status).toBe(200);
    try {
      const res = await world.post(sampleEmail({ subject: `fan-out ${Date.now()}` }));
      const emailId = String(res.json.email_id);
      await sink.waitFor(1);
      await other.waitFor(1);
      expect((await emailJob(emailId)).returnvalue).toEqual({ deliveries: 2 });
      for (const url of [sink.url, other.url])
        await waitUntil(
          async () => (await world.deliveryProducer.queue.getJobState(webhookIdFor(emailId, url))) === 'completed',
          10_000,
          `delivery job to ${url}`,
        );
    } finally {
      await operatorRequest(world, 'POST', '/api/routing_rules', { rules: [] });
    }
  });
});

describe('DELIVERY_FAST_PATH=false', () => {
  it('every delivery is its own job', async () => {
    const sink = await startWebhookSink();
    const world = await startWorld({ env: { WEBHOOK_URL: sink.url, DELIVERY_FAST_PATH: 'false' } });
    try {
      const res = await world.post(sampleEmail());
      await sink.waitFor(1);
      const webhookId = webhookIdFor(String(res.json.email_id), sink.url);
      await waitUntil(async () => (await world.deliveryProducer.queue.getJobState(webhookId)) === 'completed', 10_000, 'delivery job');
    } finally {
      await world.close();
      await sink.close();
    }
  });
});
