import { afterAll, describe, expect, it } from '@jest/globals';
import { BACKUP_POLL_SCHEDULER_ID, WATCH_RENEWAL_SCHEDULER_ID } from '@render-signal/gmail';
import { silentLogger } from '@render-signal/observability';
import { createRedisConnection } from '@render-signal/queue';
import { startWorkers, type RunningWorkers } from '../../apps/worker/src/worker';
import { waitReady } from '../helpers/world';
import { deliveredMessageIds, linkHtml, startGmailWorld, type GmailWorld } from './gmail-world';

describe('Gmail backup poll', () => {
  let g: GmailWorld | undefined;
  afterAll(async () => {
    await g?.close();
  });

  it('delivers a message whose notification never came', async () => {
    g = await startGmailWorld({ env: { GMAIL_POLL_INTERVAL: '300ms' } });
    const carol = 'carol.mailbox@example.org';
    await g.connect(carol);
    const message = g.google.deliver(carol, { subject: 'Notification dropped', html: linkHtml('dropped') });
    // No push at all: only the poll can find it.
    await g.sink.waitFor(1, 5_000);
    expect(deliveredMessageIds(g.sink)).toEqual([message.id]);
    await new Promise((r) => setTimeout(r, 800)); // several more polls: still one webhook
    expect(deliveredMessageIds(g.sink)).toEqual([message.id]);
  });
});

describe('Gmail watch renewal', () => {
  let g: GmailWorld | undefined;
  const extra: Array<{ running: RunningWorkers; close(): void }> = [];
  afterAll(async () => {
    for (const w of extra) {
      await w.running.close();
      w.close();
    }
    await g?.close();
  });

  it('runs once per period with 3 worker instances on the same prefix', async () => {
    const intervalMs = 600;
    g = await startGmailWorld({ env: { GMAIL_WATCH_RENEW_INTERVAL: `${intervalMs}ms` }, world: { workers: false } });
    const mailbox = 'dave.mailbox@example.org';
    await g.connect(mailbox);
    const connectWatches = g.google.calls.watch.length;
    const startedAt = Date.now();
    for (let i = 0; i < 3; i += 1) {
      const redis = createRedisConnection({
        url: g.world.redisUrl,
        profile: 'worker',
        name: `test-gmail-worker-${i}`,
        logger: silentLogger,
      });
      await waitReady(redis);
      extra.push({ running: await startWorkers({ env: g.world.workerEnv, logger: silentLogger, redis }), close: () => redis.disconnect() });
    }
    await new Promise((r) => setTimeout(r, 3_000));
    const elapsed = Date.now() - startedAt;
    const renewals = g.google.calls.watch.slice(connectWatches);
    const queue = g.world.api.gmail.producer.queue;
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers.map((s) => s.key).sort()).toEqual([BACKUP_POLL_SCHEDULER_ID, WATCH_RENEWAL_SCHEDULER_ID].sort());
    // One schedule: about elapsed / interval runs (+1 for the first, immediate one), not three times that.
    const expectedMax = Math.floor(elapsed / intervalMs) + 2;
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(renewals.length).toBeLessThanOrEqual(expectedMax);
    expect(
      renewals.every((r) => r.address === mailbox && (r.body as { topicName?: string }).topicName === 'projects/test-project/topics/gmail'),
    ).toBe(true);
    const completedRenewals = (await queue.getJobs(['completed'])).filter((j) => j.name === 'renew-watch');
    expect(completedRenewals.length).toBe(renewals.length);
    expect((await g.mailboxes.get(mailbox))?.watchExpiresAt).toBeGreaterThan(Date.now() + 6 * 86_400_000);
  });
});
