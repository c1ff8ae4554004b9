import { afterAll, describe, expect, it } from '@jest/globals';
import { computeEmailId } from '@render-signal/contracts';
import { createProducer, emailQueue } from '@render-signal/queue';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { acceptEmail } from './accept-email';
import { carriedMarkerFor, carriedMarkersUntilKey, markEmailsSeen, seenEmailKey, seenEmails } from './seen-emails';

describe('carried processed markers', () => {
  const { redis, prefix } = useTestRedis('seen');
  const producer = createProducer(emailQueue, { connection: redis, prefix });
  afterAll(async () => {
    await producer.close();
  });
  const email = { subject: 'Lot 7', sender: 'Bob <bob@example.org>', date: '2026-11-30T10:00:00.000Z', body: '<p>x</p>' };

  it('makes the ingress answer already_processed for a marked id, and nothing is queued', async () => {
    const emailId = computeEmailId(email);
    expect(await markEmailsSeen(redis, prefix, [{ emailId, ttlMs: 60_000 }])).toEqual([emailId]);
    const ttl = await redis.pttl(seenEmailKey(prefix, emailId));
    expect(ttl).toBeGreaterThan(50_000);
    const result = await acceptEmail(email, producer, { dedupWindowMs: 30 * 86_400_000 });
    expect(result.status).toBe('already_processed');
    expect(await producer.queue.getJobCounts('waiting')).toMatchObject({ waiting: 0 });
    // The marker keeps its remaining TTL (the dedup check does not extend it).
    expect(await redis.pttl(seenEmailKey(prefix, emailId))).toBeLessThanOrEqual(ttl);
  });

  it('never overwrites an id already seen, and reports which ids are seen', async () => {
    const other = computeEmailId({ ...email, subject: 'Lot 8' });
    const accepted = await acceptEmail({ ...email, subject: 'Lot 8' }, producer, { dedupWindowMs: 60_000 });
    expect(accepted.status).toBe('queued');
    expect(await markEmailsSeen(redis, prefix, [{ emailId: other, ttlMs: 1_000 }])).toEqual([]);
    expect(await redis.get(seenEmailKey(prefix, other))).toBe(accepted.job_id);
    expect(await seenEmails(redis, prefix, [other, 'f'.repeat(32)])).toEqual(new Set([other]));
  });

  it('finds a carried marker under the md5 id when the email comes with a Gmail message_id (our Apps Script)', async () => {
    const original = { ...email, subject: 'Lot 9' };
    await markEmailsSeen(redis, prefix, [{ emailId: computeEmailId(original), ttlMs: 60_000 }]);
    expect(Number(await redis.get(carriedMarkersUntilKey(prefix)))).toBeGreaterThan(Date.now() + 50_000);
    const withId = { ...original, message_id: '18c2f0a1b2c3d4e5' };
    expect(await acceptEmail(withId, producer, { dedupWindowMs: 60_000 })).toMatchObject({
      status: 'already_processed',
      email_id: '18c2f0a1b2c3d4e5',
    });
    // A new email with a message id still goes through; so does everything once the markers have expired.
    expect((await acceptEmail({ ...withId, subject: 'Lot 10', message_id: 'aa11' }, producer, { dedupWindowMs: 60_000 })).status).toBe(
      'queued',
    );
    expect(await carriedMarkerFor(withId, redis, prefix, Date.now() + 61 * 60_000)).toBe(false);
  });
});
