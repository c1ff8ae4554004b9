import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { replayFailedJobs } from '@render-signal/queue';
import { HEALTH_CACHE_MS } from '../../apps/api/src/routes/health';
import { recordingLogger } from '../helpers/recording-logger';
import { operatorRequest, waitUntil } from '../helpers/world';
import { deliveredMessageIds, linkHtml, startGmailWorld, type GmailWorld } from './gmail-world';

/**
 * Issue 28, against the fake Google API: one bad message never stops a mailbox, and every gap is
 * either synced or said (in /health, the logs and the dashboard's operator API).
 */

const DAY = 86_400_000;
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const countOf = (g: GmailWorld, id: string) => deliveredMessageIds(g.sink).filter((x) => x === id).length;
const waitDelivered = (g: GmailWorld, ids: string[], timeoutMs = 10_000) =>
  waitUntil(() => ids.every((id) => countOf(g, id) > 0), timeoutMs, `delivery of ${ids.length} message(s)`);

interface HealthDoc {
  problems: string[];
  problem_details: Array<{ code: string; severity: string; message: string }>;
  gmail: {
    mailboxes: Array<{
      mailbox: string;
      stale_sync: boolean;
      rate_limited_until: string | null;
      resync_truncated: boolean;
      resync_gap: { from: string; to: string; at_least: number; reasons: string[] } | null;
    }>;
  };
}
const health = async (g: GmailWorld) => {
  await settle(HEALTH_CACHE_MS + 100);
  return (await (await fetch(`${g.world.apiUrl}/health`)).json()) as HealthDoc;
};
const syncJobsOf = async (g: GmailWorld, address: string, states: Array<'delayed' | 'completed' | 'failed' | 'active' | 'waiting'>) =>
  (await g.world.api.gmail.producer.queue.getJobs(states)).filter((j) => j.name === 'sync' && j.data?.email_address === address);

describe('Gmail push: one bad message, the reconnect race, messages gone, rate limits', () => {
  let g: GmailWorld;
  const { logger, lines } = recordingLogger('gmail-gaps');
  // Log lines are written in batches: wait for them.
  const logged = (event: string, emailId: string) =>
    waitUntil(() => lines.some((l) => l.event === event && l.email_id === emailId), 3_000, event);
  beforeAll(async () => {
    g = await startGmailWorld({ world: { logger } });
  });
  afterAll(async () => {
    await g.close();
  });

  it('a message Gmail refuses to serve (400) becomes a replayable import-message dead letter; the mailbox goes on (items 1, 4)', async () => {
    const ann = 'ann.refused@example.org';
    await g.connect(ann);
    const bad = g.google.deliver(ann, { subject: 'Refused by Gmail', html: linkHtml('refused') });
    g.google.failMessage(ann, bad.id, 400);
    const next = [1, 2].map((n) => g.google.deliver(ann, { subject: `After the refused one ${n}`, html: linkHtml(`after${n}`) }));
    expect(await g.push(ann, g.google.historyId(ann))).toBe(204);
    await waitDelivered(
      g,
      next.map((m) => m.id),
    );
    // The history position moved past it.
    await waitUntil(async () => (await g.mailboxes.get(ann))?.historyId === g.google.historyId(ann), 5_000, 'position moved');

    const queue = g.world.api.gmail.producer.queue;
    const deadLetter = async () => (await queue.getFailed()).find((j) => j.name === 'import-message' && j.data?.message_id === bad.id);
    await waitUntil(async () => (await deadLetter()) !== undefined, 10_000, 'dead-lettered import-message job');
    const job = (await deadLetter())!;
    expect(job.data).toMatchObject({ email_address: ann, message_id: bad.id });
    expect(job.data.error).toMatch(/400/);
    expect(job.failedReason).toContain(bad.id);
    expect(job.failedReason).toMatch(/could not be fetched.*400/);
    expect(job.attemptsMade).toBe(1); // a lasting error about the message: no retries wasted
    await logged('gmail.message_fetch_failed', bad.id);
    // Item 4: kept as long as a delivery dead letter (30 days), not 7 days / 5,000 entries.
    expect(job.opts.removeOnFail).toEqual({ age: 30 * 86_400, count: 100_000 });
    // The sync remembered it as taken: only the replay brings it in, past the seen set.
    expect(await g.mailboxes.seenMessages(ann, [bad.id])).toEqual(new Set([bad.id]));

    g.google.failMessage(ann, bad.id, undefined); // Gmail serves it again
    expect(await replayFailedJobs(queue, { ids: [job.id!] })).toBe(1);
    await waitDelivered(g, [bad.id]);
    expect(countOf(g, bad.id)).toBe(1);
  });

  it('a transient messages.get error (503) retries the sync instead of dead-lettering the message (item 1)', async () => {
    const bea = 'bea.transient@example.org';
    await g.connect(bea);
    const message = g.google.deliver(bea, { subject: 'Transient', html: linkHtml('transient') });
    g.google.failMessage(bea, message.id, 503);
    expect(await g.push(bea, message.historyId)).toBe(204);
    await waitUntil(
      async () => (await syncJobsOf(g, bea, ['delayed', 'waiting', 'failed'])).some((j) => j.attemptsMade > 0),
      10_000,
      'retry',
    );
    g.google.failMessage(bea, message.id, undefined);
    await waitDelivered(g, [message.id], 15_000);
    const imports = (await g.world.api.gmail.producer.queue.getJobs(['failed', 'completed', 'waiting', 'delayed'])).filter(
      (j) => j.name === 'import-message' && j.data?.message_id === message.id,
    );
    expect(imports).toEqual([]);
  });

  it('a message deleted before it is read is logged and counted in rs_gmail_messages_gone_total (item 6)', async () => {
    const cid = 'cid.gone@example.org';
    await g.connect(cid);
    const gone = g.google.deliver(cid, { subject: 'Deleted at once', html: linkHtml('gone') });
    g.google.deleteMessage(cid, gone.id);
    const kept = g.google.deliver(cid, { subject: 'Kept', html: linkHtml('kept') });
    expect(await g.push(cid, kept.historyId)).toBe(204);
    await waitDelivered(g, [kept.id]);
    expect(countOf(g, gone.id)).toBe(0);
    await logged('gmail.message_gone', gone.id);
    const gauge = async () => {
      const text = await (await fetch(`${g.world.apiUrl}/metrics`)).text();
      return Number(/rs_gmail_messages_gone_total\{stage="sync"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    await waitUntil(async () => (await gauge()) >= 1, 12_000, 'rs_gmail_messages_gone_total in /metrics');
  });

  it('a sync still refreshing the old grant cannot flip a freshly reconnected mailbox back to needs_reauth (item 5)', async () => {
    const dan = 'dan.race@example.org';
    await g.connect(dan);
    const message = g.google.deliver(dan, { subject: 'Across the reconnect', html: linkHtml('race') });
    g.google.revokeRefreshTokens(dan);
    g.google.expireAccessTokens();
    const release = g.google.holdRefresh();
    try {
      expect(await g.push(dan, message.historyId)).toBe(204);
      // The sync read the old refresh token and is waiting on Google's answer...
      await waitUntil(() => g.google.calls.heldRefresh > 0, 5_000, 'refresh in flight');
      // ...while the operator reconnects the mailbox (a new consent, a new grant).
      expect((await g.reconnect(dan)).state).toBe('active');
    } finally {
      release(); // Google now refuses the old token: invalid_grant for grant 1
    }
    // The refused old grant does not mark the mailbox; the sync is retried with the new grant, no push needed.
    await waitDelivered(g, [message.id]);
    expect((await g.mailboxes.get(dan))?.state).toBe('active');
  });

  it('Retry-After: 0 costs a bounded number of tries per call; the job retries with its own backoff (item 7)', async () => {
    const eve = 'eve.zero@example.org';
    await g.connect(eve);
    const message = g.google.deliver(eve, { subject: 'Retry-After zero', html: linkHtml('zero') });
    const before = g.google.calls.rateLimited;
    g.google.rateLimit(12, 0, eve); // two calls' worth of tries, answered at once
    expect(await g.push(eve, message.historyId)).toBe(204);
    await waitDelivered(g, [message.id], 20_000);
    expect(g.google.calls.rateLimited - before).toBe(12);
    // 6 tries per call: two attempts failed on the rate limit (of whichever sync jobs ran), then one went through.
    const syncs = await syncJobsOf(g, eve, ['completed']);
    expect(syncs.reduce((n, j) => n + (j.stacktrace ?? []).length, 0)).toBe(2);
    expect(syncs.flatMap((j) => j.stacktrace ?? []).every((trace) => /429 rateLimitExceeded/.test(trace))).toBe(true);
  }, 30_000);
});

describe('Gmail push: a long Retry-After delays the sync job (item 7)', () => {
  let g: GmailWorld;
  beforeAll(async () => {
    // Stale after 3 polls of 300 ms: without the delay the mailbox would be flagged within a second.
    g = await startGmailWorld({ env: { GMAIL_POLL_INTERVAL: '300ms' } });
  });
  afterAll(async () => {
    await g.close();
  });

  it('moves the job to delayed until Retry-After, without spending an attempt, and the mailbox is not stale before', async () => {
    const fay = 'fay.wait@example.org';
    await g.connect(fay);
    const message = g.google.deliver(fay, { subject: 'Wait two minutes', html: linkHtml('wait') });
    g.google.rateLimit(1_000, 120, fay);
    const askedAt = Date.now();
    expect(await g.push(fay, message.historyId)).toBe(204);
    await waitUntil(async () => (await g.mailboxes.get(fay))?.rateLimitedUntil !== undefined, 5_000, 'rate_limited_until');
    const until = (await g.mailboxes.get(fay))!.rateLimitedUntil!;
    expect(until).toBeGreaterThanOrEqual(askedAt + 120_000);
    expect(until).toBeLessThan(askedAt + 130_000);
    await waitUntil(async () => (await syncJobsOf(g, fay, ['delayed'])).length > 0, 5_000, 'delayed sync job');
    const [delayed] = await syncJobsOf(g, fay, ['delayed']);
    expect(delayed!.attemptsMade).toBe(0);
    expect(delayed!.timestamp + delayed!.delay).toBeGreaterThanOrEqual(askedAt + 120_000 - 1_000);
    expect(await syncJobsOf(g, fay, ['failed'])).toEqual([]);

    await settle(1_500); // past 3 poll intervals
    const doc = await health(g);
    const row = doc.gmail.mailboxes.find((m) => m.mailbox === 'f***@example.org')!;
    expect(row.stale_sync).toBe(false);
    expect(row.rate_limited_until).not.toBeNull();
    expect(doc.problems).not.toContain('gmail_sync_stale');
    expect(doc.problem_details.find((p) => p.code === 'gmail_rate_limited')?.message).toMatch(/f\*\*\*@example\.org.*attendre/);
    // Few calls while waiting: the polls' syncs collapse into the delayed job (same deduplication id).
    expect(g.google.calls.rateLimited).toBeLessThan(10);

    // Google lets go; the operator (or the time) promotes the job: the message arrives.
    g.google.rateLimit(0);
    for (const job of await syncJobsOf(g, fay, ['delayed'])) await job.promote();
    await waitDelivered(g, [message.id], 10_000);
  }, 30_000);
});

describe('Gmail push resync gaps (items 2, 3, 8)', () => {
  let g: GmailWorld;
  const { logger, lines } = recordingLogger('gmail-gaps');
  beforeAll(async () => {
    // The first user label created is Label_1.
    g = await startGmailWorld({ env: { GMAIL_LABEL_FILTER: 'Label_1', GMAIL_RESYNC_MAX_MESSAGES: '5' }, world: { logger } });
  });
  afterAll(async () => {
    await g.close();
  });
  const labelled = ['INBOX', 'UNREAD', 'Label_1'];

  it('a busy mailbox is not cut: only mail not taken in yet counts; a late label after the connection is read (items 3, 8)', async () => {
    const gil = 'gil.busy@example.org';
    let beforeConnection: { id: string } | undefined;
    await g.connect(gil, {
      before: () => {
        expect(g.google.createUserLabel(gil, 'A_TRANSFERER_WEBHOOK')).toBe('Label_1');
        beforeConnection = g.google.deliver(gil, {
          subject: 'Before the connection',
          html: linkHtml('pre'),
          receivedAt: Date.now() - 3_600_000,
        });
      },
    });
    // Received after the connection, not labelled yet: older than everything sent below.
    const lateInWindow = g.google.deliver(gil, { subject: 'Labelled during the gap', html: linkHtml('late') });
    await settle(20);
    const sent = Array.from({ length: 8 }, (_, n) =>
      g.google.deliver(gil, { subject: `Sent ${n}`, html: linkHtml(`sent${n}`), labelIds: labelled }),
    );
    expect(await g.push(gil, g.google.historyId(gil))).toBe(204);
    await waitDelivered(
      g,
      sent.map((m) => m.id),
    );

    // The gap: both get the label, two new messages, one arrives and is archived; then Gmail forgets the history.
    g.google.relabel(gil, lateInWindow.id, { add: ['Label_1'] });
    g.google.relabel(gil, beforeConnection!.id, { add: ['Label_1'] });
    const fresh = [1, 2].map((n) => g.google.deliver(gil, { subject: `Fresh ${n}`, html: linkHtml(`fresh${n}`), labelIds: labelled }));
    const archived = g.google.deliver(gil, { subject: 'Archived during the gap', html: linkHtml('archived'), labelIds: labelled });
    g.google.relabel(gil, archived.id, { remove: ['INBOX', 'Label_1'] });
    g.google.forgetHistory(gil);
    expect(await g.push(gil, g.google.historyId(gil))).toBe(204);
    await waitDelivered(g, [lateInWindow.id, ...fresh.map((m) => m.id)]);
    await settle(800);
    // 11 listed, 3 not taken in yet: within the bound of 5, nothing flagged.
    expect((await g.mailboxes.get(gil))?.resyncGap).toBeUndefined();
    for (const m of [...sent, lateInWindow, ...fresh]) expect(countOf(g, m.id)).toBe(1);
    // The two limits docs/gmail-push.md states: mail from before the connection labelled during the gap,
    // and mail archived during the gap, are invisible to a resync.
    expect(countOf(g, beforeConnection!.id)).toBe(0);
    expect(countOf(g, archived.id)).toBe(0);
  });

  it('a cut resync is kept with its range and count across a reconnect until an operator acknowledges it (item 3)', async () => {
    const hal = 'hal.cut@example.org';
    await g.connect(hal, { before: () => g.google.createUserLabel(hal, 'A_TRANSFERER_WEBHOOK') });
    const gap = Array.from({ length: 8 }, (_, n) =>
      g.google.deliver(hal, { subject: `Gap ${n}`, html: linkHtml(`hgap${n}`), labelIds: labelled }),
    );
    g.google.forgetHistory(hal);
    expect(await g.push(hal, g.google.historyId(hal))).toBe(204);
    await waitDelivered(
      g,
      gap.slice(-5).map((m) => m.id),
    );
    await waitUntil(async () => (await g.mailboxes.get(hal))?.resyncGap !== undefined, 5_000, 'resync gap');
    const recorded = (await g.mailboxes.get(hal))!.resyncGap!;
    expect(recorded).toMatchObject({ at_least: 3, reasons: ['max_messages'] });
    expect(recorded.from).toBe((await g.mailboxes.get(hal))!.connectedAt);
    expect(recorded.to).toBe(Number(gap[3]!.internalDate)); // the oldest message read: older ones were not
    for (const m of gap.slice(0, 3)) expect(countOf(g, m.id)).toBe(0);

    // A reconnect does not erase it; neither does a later complete sync.
    await g.reconnect(hal);
    const after = g.google.deliver(hal, { subject: 'After', html: linkHtml('hafter'), labelIds: labelled });
    expect(await g.push(hal, after.historyId)).toBe(204);
    await waitDelivered(g, [after.id]);
    const doc = await health(g);
    expect(doc.problems).toContain('gmail_resync_truncated');
    expect(doc.gmail.mailboxes.find((m) => m.mailbox === 'h***@example.org')?.resync_gap).toMatchObject({ at_least: 3 });
    const words = doc.problem_details.find((p) => p.code === 'gmail_resync_truncated')!.message;
    expect(words).toMatch(/h\*\*\*@example\.org.*au moins 3 e-mail\(s\).*GMAIL_RESYNC_MAX_MESSAGES.*acquitter/);
    expect(words).toMatch(/archivé ou supprimé.*avant la connexion/);

    // The operator API: listed with the full address, then acknowledged (session + CSRF).
    const listed = await operatorRequest(g.world, 'GET', '/api/gmail/mailboxes');
    const shown = (listed.json.mailboxes as Array<{ address: string; resync_gap: { last_at: string; at_least: number } | null }>).find(
      (m) => m.address === hal,
    )?.resync_gap;
    expect(shown).toMatchObject({ at_least: 3 });
    const path = `/api/gmail/mailboxes/${encodeURIComponent(hal)}/acknowledge-truncation`;
    // Acknowledging a gap older than the one recorded: refused, the alert stays.
    const stale = await operatorRequest(g.world, 'POST', path, { last_at: new Date(0).toISOString() });
    expect(stale.status).toBe(409);
    expect(stale.json.code).toBe('gap_changed');
    expect((await g.mailboxes.get(hal))?.resyncGap).toBeDefined();
    const ack = await operatorRequest(g.world, 'POST', path, { last_at: shown!.last_at });
    expect(ack.status).toBe(200);
    expect(ack.json).toMatchObject({ success: true, acknowledged: true });
    expect((await g.mailboxes.get(hal))?.resyncGap).toBeUndefined();
    expect((await health(g)).problems).not.toContain('gmail_resync_truncated');
    const unknown = await operatorRequest(g.world, 'POST', '/api/gmail/mailboxes/nobody%40example.org/acknowledge-truncation');
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe('mailbox_not_found');
    const anonymous = await fetch(`${g.world.apiUrl}/api/gmail/mailboxes/${encodeURIComponent(hal)}/acknowledge-truncation`, {
      method: 'POST',
    });
    expect(anonymous.status).toBe(401);
  });

  it('a gap older than the dedup window is not read but said, with its dates and a count (item 2)', async () => {
    const ida = 'ida.old@example.org';
    await g.connect(ida, { before: () => g.google.createUserLabel(ida, 'A_TRANSFERER_WEBHOOK') });
    // Connected 60 days ago, last read through 50 days ago (DEDUP_WINDOW_DAYS is 30).
    const now = Date.now();
    const key = `${g.world.prefix}:gmail:mailbox:${ida}`;
    await g.world.workerRedis.hset(key, { connected_at: String(now - 60 * DAY), read_through_at: String(now - 50 * DAY) });
    const tooOld = g.google.deliver(ida, {
      subject: '45 days ago',
      html: linkHtml('old45'),
      labelIds: labelled,
      receivedAt: now - 45 * DAY,
    });
    const recent = g.google.deliver(ida, { subject: 'Recent', html: linkHtml('recent'), labelIds: labelled });
    g.google.forgetHistory(ida);
    expect(await g.push(ida, g.google.historyId(ida))).toBe(204);
    await waitDelivered(g, [recent.id]);
    await waitUntil(async () => (await g.mailboxes.get(ida))?.resyncGap !== undefined, 5_000, 'resync gap');
    const recorded = (await g.mailboxes.get(ida))!.resyncGap!;
    expect(recorded.reasons).toEqual(['dedup_window']);
    expect(recorded.at_least).toBe(1);
    expect(recorded.from).toBe(now - 50 * DAY);
    expect(Math.abs(recorded.to - (now - 30 * DAY))).toBeLessThan(60_000);
    expect(countOf(g, tooOld.id)).toBe(0);
    const truncated = () => lines.find((l) => l.event === 'gmail.resync_truncated' && l.mailbox === ida);
    await waitUntil(() => truncated() !== undefined, 3_000, 'gmail.resync_truncated logged');
    expect(truncated()).toMatchObject({
      reason: 'dedup_window',
      not_read_from: new Date(now - 50 * DAY).toISOString(),
      at_least: 1,
    });
    const doc = await health(g);
    const words = doc.problem_details.find((p) => p.code === 'gmail_resync_truncated' && p.message.includes('i***@example.org'))!.message;
    expect(words).toContain(new Date(now - 50 * DAY).toISOString().slice(0, 10));
    expect(words).toContain('DEDUP_WINDOW_DAYS');
  });
});
