import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createApp } from '../app';
import { apiEnvSchema, loadEnv } from '@render-signal/config';
import { silentLogger } from '@render-signal/observability';
import { createRedisConnection } from '@render-signal/queue';
import { buildApiDeps } from '../deps';
import { freePort } from '../../../../test/helpers/redis-server';
import { sampleEmail, startWorld, TEST_TOKEN, type World } from '../../../../test/helpers/world';

describe('POST /api/ingress/gmail', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ workers: false, env: { INGRESS_MAX_BODY_MB: '0.05' } });
  });
  afterAll(async () => {
    await world.close();
  });

  it('queues a valid email and answers 200 with its id', async () => {
    const email = sampleEmail({ message_id: 'gmail-msg-0001' });
    const res = await world.post(email);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ success: true, status: 'queued', email_id: 'gmail-msg-0001' });
    expect(await world.emailProducer.queue.getWaitingCount()).toBeGreaterThanOrEqual(1);
  });

  it('answers a duplicate with already_processing while queued, enqueuing nothing', async () => {
    const email = sampleEmail();
    const first = await world.post(email);
    const waitingBefore = await world.emailProducer.queue.getWaitingCount();
    const second = await world.post(email);
    expect(second.status).toBe(200);
    expect(second.json).toEqual({ success: true, status: 'already_processing', email_id: first.json.email_id });
    expect(await world.emailProducer.queue.getWaitingCount()).toBe(waitingBefore);
  });

  it('accepts a bare token without "Bearer "', async () => {
    const res = await world.post(sampleEmail(), { authorization: TEST_TOKEN });
    expect(res.status).toBe(200);
  });

  it.each([
    ['no header', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token-123' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['a wrong token of the same length', { authorization: `Bearer ${'x'.repeat(TEST_TOKEN.length)}` }],
    ['the token with one more character', { authorization: `Bearer ${TEST_TOKEN}x` }],
    ['the token less its last character', { authorization: `Bearer ${TEST_TOKEN.slice(0, -1)}` }],
    ['another scheme', { authorization: `Basic ${TEST_TOKEN}` }],
  ])('answers 401 with %s', async (_label, headers) => {
    const res = await request(world.apiUrl).post('/api/ingress/gmail').set(headers).send(sampleEmail());
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ success: false, code: 'unauthorized', message: 'Unauthorized' });
  });

  it('accepts "bearer" in any case and spaces around the token', async () => {
    expect((await world.post(sampleEmail(), { authorization: `bearer   ${TEST_TOKEN} ` })).status).toBe(200);
  });

  it('answers with no-store and nosniff, accepted or refused, and counts both in /metrics', async () => {
    const count = async (status: string, outcome: string) => {
      const text = (await request(world.apiUrl).get('/metrics')).text;
      const line = text.split('\n').find((l) => l.startsWith(`rs_ingress_requests_total{status="${status}",outcome="${outcome}"}`));
      return Number(line?.split(' ').pop() ?? 0);
    };
    const [queuedBefore, refusedBefore] = [await count('200', 'queued'), await count('401', 'rejected')];
    const accepted = await request(world.apiUrl)
      .post('/api/ingress/gmail')
      .set('authorization', `Bearer ${TEST_TOKEN}`)
      .send(sampleEmail());
    const refused = await request(world.apiUrl).post('/api/ingress/gmail').set('authorization', 'Bearer nope').send(sampleEmail());
    for (const res of [accepted, refused]) {
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    }
    expect([accepted.status, refused.status]).toEqual([200, 401]);
    expect(await count('200', 'queued')).toBe(queuedBefore + 1);
    expect(await count('401', 'rejected')).toBe(refusedBefore + 1);
  });

  it('answers 415 to a non-JSON body', async () => {
    const res = await request(world.apiUrl)
      .post('/api/ingress/gmail')
      .set('authorization', `Bearer ${TEST_TOKEN}`)
      .set('content-type', 'text/plain')
      .send('sender=a&body=b');
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('unsupported_media_type');
  });

  it('answers 413 past the size limit', async () => {
    const res = await world.post(sampleEmail({ body: 'x'.repeat(80_000) }));
    expect(res.status).toBe(413);
    expect(res.json.code).toBe('payload_too_large');
  });

  it.each([
    ['invalid JSON', '{"sender": ', 'invalid_json', 'Invalid JSON payload'],
    ['a JSON array', '[1,2]', 'invalid_json', 'Invalid JSON payload'],
    ['a missing sender', JSON.stringify({ body: '<p>x</p>' }), 'invalid_payload', 'Missing field: sender'],
    ['an empty body', JSON.stringify({ sender: 'a@b.c', body: '' }), 'invalid_payload', 'Missing field: body'],
    ['a non-string sender', JSON.stringify({ sender: 42, body: 'x' }), 'invalid_payload', 'Invalid field: sender'],
  ])('answers 400 to %s', async (_label, raw, code, message) => {
    const res = await world.post(raw);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ success: false, code, message });
  });

  it('lists every field error in machine-readable form', async () => {
    const res = await world.post({ sender: 7, body: 9, labels: 'x' });
    expect(res.status).toBe(400);
    const paths = (res.json.errors as Array<{ path: string }>).map((e) => e.path).sort();
    expect(paths).toEqual(['body', 'labels', 'sender']);
  });

  it('answers 404 JSON for unknown routes, never 500', async () => {
    const res = await request(world.apiUrl).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });

  it('serves liveness without Redis and readiness with it', async () => {
    expect((await request(world.apiUrl).get('/healthz')).status).toBe(200);
    const ready = await request(world.apiUrl).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.services.redis).toBe('ok');
  });

  it('answers GET and HEAD /api/ping without login, as the original did (uptime monitors)', async () => {
    const ping = await request(world.apiUrl).get('/api/ping');
    expect(ping.status).toBe(200);
    expect(ping.body).toEqual({ status: 'pong', timestamp_utc: expect.any(String) });
    expect(Number.isNaN(Date.parse(ping.body.timestamp_utc as string))).toBe(false);
    expect((await request(world.apiUrl).head('/api/ping')).status).toBe(200);
    expect((await request(world.apiUrl).get('/api/pings')).status).toBe(401);
  });
});

describe('ingress with Redis unreachable', () => {
  it('answers 503 with Retry-After within 2 s, never 200', async () => {
    const deadPort = await freePort();
    const url = `redis://127.0.0.1:${deadPort}`;
    const env = loadEnv(apiEnvSchema, {
      REDIS_URL: url,
      PROCESS_API_TOKEN: TEST_TOKEN,
      SECRET_KEY: 'x'.repeat(20),
      QUEUE_PREFIX: 'rs-test-dead',
    });
    const redis = createRedisConnection({ url, profile: 'producer', name: 'test-dead', logger: silentLogger });
    const resources = buildApiDeps(env, silentLogger, redis);
    const app = createApp(resources.deps);
    try {
      const started = Date.now();
      const res = await request(app).post('/api/ingress/gmail').set('authorization', `Bearer ${TEST_TOKEN}`).send(sampleEmail());
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body.code).toBe('redis_unavailable');
      const ready = await request(app).get('/readyz');
      expect(ready.status).toBe(503);
    } finally {
      await resources.close().catch(() => {});
      redis.disconnect();
    }
  });
});
