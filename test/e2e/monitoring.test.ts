import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { sampleEmail, startWorld, waitUntil, type World } from '../helpers/world';

/** /health and /metrics with a live pipeline (issue 6 monitoring). */
describe('health and metrics', () => {
  let sink: WebhookSink;
  let world: World;
  beforeAll(async () => {
    sink = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: sink.url, METRICS_TOKEN: 'metrics-token-123', HEALTH_DEAD_LETTER_THRESHOLD: '0' } });
    await world.post(sampleEmail());
    await sink.waitFor(1);
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
  });

  it('reports the seed fields, queue depths and live workers, without secrets', async () => {
    // The worker's heartbeat, and the delivery's webhook-log entry (written within 10 ms of the POST, not before the
    // sink saw it; /health is cached for 2 s).
    await waitUntil(
      async () => {
        const health = (await (await fetch(`${world.apiUrl}/health`)).json()) as {
          services: { background_tasks: { workers: number } };
          metrics: { active_webhooks: number };
        };
        return health.services.background_tasks.workers > 0 && health.metrics.active_webhooks > 0;
      },
      10_000,
      'worker published and delivery logged',
    );
    const res = await fetch(`${world.apiUrl}/health`);
    const body = (await res.json()) as { uptime: unknown; metrics: { last_webhook: unknown } };
    expect(res.status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      version: '0.1.0',
      services: { redis: { status: 'ok', connected: true }, background_tasks: { status: 'running', workers: 1 } },
      metrics: { error_rate_24h: 0, active_webhooks: 1, dead_letters: 0 },
      queues: { email: { failed: 0 }, delivery: { failed: 0 } },
    });
    expect(typeof body.uptime).toBe('number');
    expect(typeof body.metrics.last_webhook).toBe('string');
    const text = JSON.stringify(body);
    expect(text).not.toContain(sink.url);
    expect(text).not.toContain('127.0.0.1');
  });

  it('degrades when the dead-letter set grows', async () => {
    sink.script.push({ status: 410, body: 'gone' });
    await world.post(sampleEmail());
    await waitUntil(async () => (await world.deliveryProducer.queue.getFailedCount()) > 0, 5_000, 'dead letter');
    type Health = { status: string; problems: string[]; metrics: { error_rate_24h: number } };
    let body: Health | undefined;
    // /health reads its facts at most every couple of seconds: wait for the next reading.
    await waitUntil(
      async () => {
        body = (await (await fetch(`${world.apiUrl}/health`)).json()) as Health;
        return body.problems.includes('dead_letters_growing');
      },
      10_000,
      'health sees the dead letter',
    );
    if (!body) throw new Error('no health document');
    expect(body.status).toBe('degraded');
    expect(body.problems).toContain('dead_letters_growing');
    expect(body.metrics.error_rate_24h).toBeGreaterThan(0);
  });

  it('serves Prometheus metrics from the API and the workers behind its token', async () => {
    expect((await fetch(`${world.apiUrl}/metrics`)).status).toBe(401);
    await waitUntil(
      async () => {
        const text = await (await fetch(`${world.apiUrl}/metrics`, { headers: { authorization: 'Bearer metrics-token-123' } })).text();
        return text.includes('rs_delivery_attempts_total{outcome="delivered"');
      },
      10_000,
      'worker metrics published',
    );
    const text = await (await fetch(`${world.apiUrl}/metrics`, { headers: { authorization: 'Bearer metrics-token-123' } })).text();
    expect(text).toMatch(/rs_ingress_requests_total\{status="200",outcome="queued"\} [1-9]/);
    expect(text).toMatch(
      /rs_delivery_attempts_total\{outcome="delivered",target_host="127\.0\.0\.1:\d+",failure_reason="",path="(fast|job)"\} [1-9]/,
    );
    expect(text).toMatch(/rs_end_to_end_latency_seconds_count [1-9]/);
    expect(text).toMatch(/rs_jobs_completed_total\{queue="email"\} [1-9]/);
    expect(text).toContain('rs_api_process_resident_memory_bytes');
    expect(text).toMatch(/rs_queue_jobs\{queue="delivery",state="failed"\} 1/);
  });
});

describe('health without a webhook target', () => {
  it('says so instead of failing silently', async () => {
    const world = await startWorld({ workers: false });
    try {
      const body = (await (await fetch(`${world.apiUrl}/health`)).json()) as { status: string; problems: string[] };
      expect(body.status).toBe('degraded');
      expect(body.problems).toContain('no_webhook_target');
    } finally {
      await world.close();
    }
  });
});
