import { describe, expect, it } from '@jest/globals';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { createWebhookLog, type WebhookLogEntry } from './webhook-log';
import { importWebhookLogEntries } from './webhook-log-import';

const DAY = 86_400_000;
const entry = (id: number, at: number, key: string): WebhookLogEntry => ({
  id,
  timestamp: new Date(at).toISOString(),
  type: 'custom',
  email_id: `e${id}`,
  status: 'success',
  status_code: 200,
  webhook_url: 'https://hook.eu2.make.com/***',
  subject: `s${id}`,
  import_key: key,
});

describe('importWebhookLogEntries', () => {
  const { redis, prefix } = useTestRedis('wlog-import');

  it('merges carried entries in date order under live ones, once', async () => {
    const log = createWebhookLog({ redis, prefix, maxEntries: 100, maxAgeDays: 30 });
    await log.append({ type: 'custom', email_id: 'live', status: 'success', status_code: 200, webhook_url: null, subject: 'live' });
    const now = Date.now();
    const carried = [entry(1, now - 3 * DAY, 'k1'), entry(2, now - DAY, 'k2'), entry(3, now - 40 * DAY, 'k3')];
    expect(await importWebhookLogEntries(redis, prefix, carried, 100)).toEqual({ added: 3 });
    expect(await importWebhookLogEntries(redis, prefix, carried, 100)).toEqual({ added: 0 });
    const listed = await log.list({ days: 7, limit: 50 });
    expect(listed.map((e) => e.email_id)).toEqual(['live', 'e2', 'e1']);
  });

  it('keeps only the newest maxEntries', async () => {
    const other = `${prefix}-cap`;
    const now = Date.now();
    const result = await importWebhookLogEntries(
      redis,
      other,
      [entry(1, now - 1000, 'a'), entry(2, now, 'b'), entry(3, now - 5000, 'c')],
      2,
    );
    expect(result).toEqual({ added: 2 });
    expect((await redis.lrange(`${other}:webhook_logs`, 0, -1)).map((l) => (JSON.parse(l) as WebhookLogEntry).email_id)).toEqual([
      'e2',
      'e1',
    ]);
  });
});
