import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { replayFailedJobs } from '@render-signal/queue';
import { sampleEmail, startWorld, TEST_WEBHOOK_SECRET, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/** The pipeline end to end: real API, real workers, real Redis, a real HTTP sink on loopback. */
describe('ingress → queue → worker → signed webhook', () => {
  let sink: WebhookSink;
  let world: World;
  beforeAll(async () => {
    sink = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: sink.url } });
  });
  afterEach(() => {
    sink.received.length = 0;
    sink.requests.length = 0;
    sink.script.length = 0;
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
  });

  it('delivers the email with the original payload fields and a verifiable Standard Webhooks signature', async () => {
    const email = sampleEmail({ subject: 'Média Solution — été ’24 🎉' });
    const res = await world.post(email);
    expect(res.json.status).toBe('queued');
    const [hook] = await sink.waitFor(1);
    const payload = hook!.json!;
    expect(Object.keys(payload).slice(0, 8)).toEqual([
      'microsoft_graph_email_id',
      'subject',
      'receivedDateTime',
      'sender_address',
      'bodyPreview',
      'email_content',
      'source',
      'sender_email',
    ]);
    expect(payload).toMatchObject({
      microsoft_graph_email_id: res.json.email_id,
      subject: email.subject,
      sender_email: 'alice@example.org',
      source: 'gmail_push',
      email_content: email.body,
    });
    expect(hook!.headers['content-type']).toMatch(/^application\/json/);
    expect(hook!.headers['user-agent']).toMatch(/render-signal/);
    const verified = new Webhook(TEST_WEBHOOK_SECRET).verify(hook!.body, {
      'webhook-id': String(hook!.headers['webhook-id']),
      'webhook-timestamp': String(hook!.headers['webhook-timestamp']),
      'webhook-signature': String(hook!.headers['webhook-signature']),
    });
    expect(verified).toEqual(payload);
  });

  it('delivers a duplicate POST exactly once and then answers already_processed', async () => {
    const email = sampleEmail();
    const [a, b] = await Promise.all([world.post(email), world.post(email)]);
    const statuses = [a.json.status, b.json.status];
    expect(statuses.filter((s) => s === 'queued')).toHaveLength(1);
    // The second answer depends on how far the first got: still queued/active, or already done.
    expect(['already_processing', 'already_processed']).toContain(statuses.find((s) => s !== 'queued'));
    await sink.waitFor(1);
    await waitUntil(async () => (await world.emailProducer.queue.getCompletedCount()) > 0, 5_000, 'email job completed');
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.received).toHaveLength(1);
    const again = await world.post(email);
    expect(again.json.status).toBe('already_processed');
  });

  it('retries 500 twice then delivers, with 3 attempts in the job log', async () => {
    sink.script.push({ status: 500, body: 'boom' }, { status: 500, body: 'boom again' });
    const res = await world.post(sampleEmail());
    const [hook] = await sink.waitFor(1, 10_000);
    expect(sink.requests).toHaveLength(3);
    const webhookId = String(hook!.headers['webhook-id']);
    expect(new Set(sink.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([webhookId]));
    await waitUntil(async () => (await world.deliveryProducer.queue.getJobState(webhookId)) === 'completed', 5_000, 'delivery completed');
    const { logs } = await world.deliveryProducer.queue.getJobLogs(webhookId);
    const attempts = logs.map((l) => JSON.parse(l) as { attempt: number; outcome: string; status: number });
    expect(attempts.map((a) => [a.attempt, a.outcome, a.status])).toEqual([
      [1, 'retrying', 500],
      [2, 'retrying', 500],
      [3, 'delivered', 200],
    ]);
    expect(res.json.status).toBe('queued');
  });

  it('does not retry a 410 Gone: the job fails at once', async () => {
    sink.script.push({ status: 410, body: 'gone' });
    await world.post(sampleEmail());
    await waitUntil(async () => (await world.deliveryProducer.queue.getFailedCount()) >= 1, 5_000, 'delivery failed');
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.requests).toHaveLength(1);
    const [failed] = await world.deliveryProducer.queue.getFailed();
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toMatch(/HTTP 410/);
    await failed!.remove();
  });

  it('dead-letters after the whole schedule, then a replay delivers once the target is back', async () => {
    sink.defaultResponse = { status: 503, body: 'down' };
    try {
      await world.post(sampleEmail());
      await waitUntil(async () => (await world.deliveryProducer.queue.getFailedCount()) >= 1, 10_000, 'dead letter');
      expect(sink.requests).toHaveLength(4); // first attempt + 3 scheduled retries
      const [dead] = await world.deliveryProducer.queue.getFailed();
      const { logs } = await world.deliveryProducer.queue.getJobLogs(dead!.id!);
      expect(logs.map((l) => (JSON.parse(l) as { outcome: string }).outcome)).toEqual(['retrying', 'retrying', 'retrying', 'failed']);
    } finally {
      sink.defaultResponse = { status: 200, body: '{"success":true}' };
    }
    const replayed = await replayFailedJobs(world.deliveryProducer.queue, { all: true });
    expect(replayed).toBe(1);
    await sink.waitFor(1, 5_000);
    expect(await world.deliveryProducer.queue.getFailedCount()).toBe(0);
  });
});
