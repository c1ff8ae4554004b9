import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnApp, type AppProcess } from '../helpers/processes';
import { freePort, startRedisServer, removeRedisDir, type OwnRedis } from '../helpers/redis-server';
import { uniquePrefix } from '../helpers/test-redis';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { sampleEmail, startWorld, TEST_TOKEN, waitUntil } from '../helpers/world';

/** Real OS processes against a private redis-server (these tests kill things). */
describe('worker killed mid-delivery', () => {
  let redis: OwnRedis;
  let sink: WebhookSink;
  const procs: AppProcess[] = [];
  beforeAll(async () => {
    redis = await startRedisServer({ aof: true });
    sink = await startWebhookSink();
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await sink.close();
    await removeRedisDir(redis);
  });

  it('is delivered by a second worker through stalled-job recovery', async () => {
    const prefix = uniquePrefix('kill');
    const env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      WEBHOOK_URL: sink.url,
      ALLOW_PRIVATE_NETWORK: 'true',
      PROCESS_API_TOKEN: TEST_TOKEN,
      SECRET_KEY: 'test-secret-key-0123456789',
      // Short lock so the killed worker's job is recovered in ~3 s, not the default's up to 12 s.
      JOB_LOCK_DURATION: '1s',
      LOG_LEVEL: 'info',
    };
    // The target holds the first request until after the worker is dead.
    sink.script.push({ status: 200, body: '{"success":true}', delayMs: 4_000 });
    const first = spawnApp('worker', env);
    procs.push(first);
    await first.waitForEvent('worker.started');
    const port = await freePort();
    const api = spawnApp('api', { ...env, PORT: String(port) });
    procs.push(api);
    await api.waitForEvent('api.started');
    // Listening comes before the Redis connection is ready (the API answers 503 until then): wait for readiness.
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 10_000, 'api ready');
    const res = await fetch(`http://127.0.0.1:${port}/api/ingress/gmail`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(sampleEmail()),
    });
    expect(((await res.json()) as { status: string }).status).toBe('queued');

    await waitUntil(() => sink.requests.length >= 1, 15_000, 'first delivery attempt reaches the target');
    await first.kill('SIGKILL');
    const second = spawnApp('worker', env);
    procs.push(second);
    await waitUntil(() => sink.requests.length >= 2, 20_000, 'redelivery by the second worker');
    const ids = new Set(sink.requests.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1); // same webhook-id: the receiver can dedup the at-least-once retry
    await second.waitForEvent('delivery.succeeded', 15_000);
  }, 60_000);
});

describe('Redis restarted under the running API and worker', () => {
  it('answers 503 within 2 s while Redis is down, then recovers without restarting anything', async () => {
    const redis = await startRedisServer({ aof: true });
    const sink = await startWebhookSink();
    const world = await startWorld({ redisUrl: redis.url, env: { WEBHOOK_URL: sink.url } });
    try {
      expect((await world.post(sampleEmail())).json.status).toBe('queued');
      await sink.waitFor(1);

      await redis.stop();
      const started = Date.now();
      const down = await world.post(sampleEmail());
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(down.status).toBe(503);
      expect(down.json.code).toBe('redis_unavailable');

      await redis.restart();
      await waitUntil(
        async () => (await world.post(sampleEmail({ subject: 'probe-after-restart' }))).status === 200,
        15_000,
        'ingress recovers',
      );
      await sink.waitFor(2, 20_000); // the worker resumed by itself and delivered
      expect(sink.received.some((r) => r.json?.subject === 'probe-after-restart')).toBe(true);
    } finally {
      await world.close().catch(() => {});
      await sink.close();
      await removeRedisDir(redis);
    }
  }, 60_000);
});

describe('worker SIGTERM', () => {
  it('finishes the in-flight delivery, then exits 0', async () => {
    const redis = await startRedisServer();
    const sink = await startWebhookSink();
    const prefix = uniquePrefix('term');
    const env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      WEBHOOK_URL: sink.url,
      ALLOW_PRIVATE_NETWORK: 'true',
      PROCESS_API_TOKEN: TEST_TOKEN,
      SECRET_KEY: 'test-secret-key-0123456789',
    };
    const worker = spawnApp('worker', env);
    const world = await startWorld({ redisUrl: redis.url, workers: false, env: { QUEUE_PREFIX: prefix } });
    try {
      await worker.waitForEvent('worker.started');
      sink.script.push({ status: 200, body: '{"success":true}', delayMs: 1_500 });
      await world.post(sampleEmail());
      await waitUntil(() => sink.requests.length >= 1, 10_000, 'delivery in flight');
      const exit = await worker.kill('SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      expect(sink.received).toHaveLength(1);
      expect(worker.logs.map((l) => l.event)).toEqual(expect.arrayContaining(['worker.stopping', 'delivery.succeeded', 'worker.stopped']));
      const order = worker.logs.map((l) => l.event);
      expect(order.indexOf('delivery.succeeded')).toBeLessThan(order.indexOf('worker.stopped'));
    } finally {
      await worker.kill('SIGKILL');
      await world.close().catch(() => {});
      await sink.close();
      await removeRedisDir(redis);
    }
  }, 30_000);
});

describe('worker SIGTERM with Redis gone', () => {
  it('still exits 0 within SHUTDOWN_TIMEOUT + 5 s (the last Redis writes cannot go through)', async () => {
    const redis = await startRedisServer();
    const env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix('term-no-redis'),
      WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      ALLOW_PRIVATE_NETWORK: 'true',
      SECRET_KEY: 'test-secret-key-0123456789',
      SHUTDOWN_TIMEOUT: '1s',
    };
    const worker = spawnApp('worker', env);
    try {
      await worker.waitForEvent('worker.started');
      await redis.stop();
      const started = Date.now();
      const exit = await worker.kill('SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(1_000 + 5_000 + 3_000);
      expect(worker.logs.map((l) => l.event)).toEqual(expect.arrayContaining(['worker.stopping']));
    } finally {
      await worker.kill('SIGKILL');
      await removeRedisDir(redis);
    }
  }, 30_000);
});
