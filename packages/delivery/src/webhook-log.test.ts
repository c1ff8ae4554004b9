import { describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { createWebhookLog, type WebhookLogEntry } from './webhook-log';

const entry = (email_id: string, status: WebhookLogEntry['status'] = 'success'): Omit<WebhookLogEntry, 'id' | 'timestamp'> => ({
  type: 'custom',
  email_id,
  status,
  status_code: status === 'success' ? 200 : 500,
  webhook_url: 'https://hook.example/***',
  subject: `subject of ${email_id}`,
});

describe('webhook log (real Redis)', () => {
  const { redis, redisUrl, prefix } = useTestRedis('whlog');

  it('appends made together are each stored, newest first, in the order they were made', async () => {
    const log = createWebhookLog({ redis, prefix: `${prefix}:a`, maxEntries: 100, maxAgeDays: 7 });
    await Promise.all(['e1', 'e2', 'e3'].map((id) => log.append(entry(id))));
    await log.append(entry('e4'));
    const listed = await log.list({ days: 7, limit: 10 });
    expect(listed.map((e) => e.email_id)).toEqual(['e4', 'e3', 'e2', 'e1']);
    // Ids grow with time (the dashboard sorts by id) and are unique.
    expect(new Set(listed.map((e) => e.id)).size).toBe(4);
    expect([...listed].sort((a, b) => b.id - a.id).map((e) => e.email_id)).toEqual(['e4', 'e3', 'e2', 'e1']);
  });

  it('keeps at most maxEntries, dropping the oldest, even when one batch overflows it', async () => {
    const log = createWebhookLog({ redis, prefix: `${prefix}:b`, maxEntries: 5, maxAgeDays: 7 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => log.append(entry(`m${i}`))));
    const listed = await log.list({ days: 7, limit: 100 });
    expect(listed.map((e) => e.email_id)).toEqual(['m7', 'm6', 'm5', 'm4', 'm3']);
  });

  it('a batch larger than one script call (Lua unpack limit) is stored whole and in order', async () => {
    const log = createWebhookLog({ redis, prefix: `${prefix}:big`, maxEntries: 5_000, maxAgeDays: 7 });
    await Promise.all(Array.from({ length: 1_234 }, (_, i) => log.append(entry(`b${i}`))));
    const listed = await log.list({ days: 7, limit: 5_000 });
    expect(listed).toHaveLength(1_234);
    expect(listed.map((e) => e.email_id)).toEqual(Array.from({ length: 1_234 }, (_, i) => `b${1_233 - i}`));
  });

  it('filters by status and stops at the age cutoff', async () => {
    let clock = Date.now() - 3 * 86_400_000;
    const log = createWebhookLog({ redis, prefix: `${prefix}:c`, maxEntries: 100, maxAgeDays: 7, now: () => clock });
    await log.append(entry('old', 'error'));
    clock = Date.now();
    await log.append(entry('new-ok'));
    await log.append(entry('new-err', 'error'));
    expect((await log.list({ days: 7, limit: 10, status: 'error' })).map((e) => e.email_id)).toEqual(['new-err', 'old']);
    expect((await log.list({ days: 1, limit: 10 })).map((e) => e.email_id)).toEqual(['new-err', 'new-ok']);
    expect((await log.list({ days: 1, limit: 1 })).map((e) => e.email_id)).toEqual(['new-err']);
  });

  it('an append fails (rejects) when Redis refuses the write, and every append of that batch does', async () => {
    const offline = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    offline.on('error', () => {});
    const log = createWebhookLog({ redis: offline, prefix: `${prefix}:d`, maxEntries: 10, maxAgeDays: 7 });
    const results = await Promise.allSettled([log.append(entry('x1')), log.append(entry('x2'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    offline.disconnect();
  });
});
