import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectOAuthMailbox } from '@render-signal/gmail';
import { replayFailedJobs } from '@render-signal/queue';
import { HEALTH_CACHE_MS } from '../../apps/api/src/routes/health';
import { operatorRequest, waitUntil } from '../helpers/world';
import {
  deliveredMessageIds,
  linkHtml,
  PUSH_AUDIENCE,
  PUSH_SERVICE_ACCOUNT,
  startGmailWorld,
  TEST_TOPIC,
  type GmailWorld,
} from './gmail-world';

/**
 * Paths where Gmail push used to lose an email silently (issue 18), each against the fake Google API:
 * reconnects, expired history, late labels, unreadable messages, and what /health shows about them.
 */

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const countOf = (g: GmailWorld, id: string) => deliveredMessageIds(g.sink).filter((x) => x === id).length;
const waitDelivered = (g: GmailWorld, ids: string[], timeoutMs = 10_000) =>
  waitUntil(() => ids.every((id) => countOf(g, id) > 0), timeoutMs, `delivery of ${ids.length} message(s)`);

interface GmailHealthDoc {
  status: string;
  problems: string[];
  metrics: { dead_letters: number };
  gmail: {
    renewal_failed: number;
    stale_sync: number;
    resync_truncated: number;
    mailboxes: Array<{
      mailbox: string;
      state: string;
      last_error: string | null;
      renewal_failed: boolean;
      renewal_error: string | null;
      stale_sync: boolean;
      resync_truncated: boolean;
      sync_error: string | null;
      watch_expires_at: string | null;
    }>;
  };
}
/** /health after its cache has turned over, so it shows the state the test just made. */
const health = async (g: GmailWorld) => {
  await new Promise((resolve) => setTimeout(resolve, HEALTH_CACHE_MS + 100));
  return (await (await fetch(`${g.world.apiUrl}/health`)).json()) as GmailHealthDoc;
};
const mailboxHealth = async (g: GmailWorld, masked: string) => (await health(g)).gmail.mailboxes.find((m) => m.mailbox === masked);

describe('Gmail push: nothing lost (default label filter INBOX)', () => {
  let g: GmailWorld;
  beforeAll(async () => {
    g = await startGmailWorld();
  });
  afterAll(async () => {
    await g.close();
  });

  it('needs_reauth → mail arrives → reconnect → every message delivered exactly once', async () => {
    const bob = 'bob.reauth@example.org';
    await g.connect(bob);
    const first = g.google.deliver(bob, { subject: 'Before revocation', html: linkHtml('before') });
    expect(await g.push(bob, first.historyId)).toBe(204);
    await waitDelivered(g, [first.id]);

    g.google.revokeRefreshTokens(bob);
    g.google.expireAccessTokens();
    const during = [1, 2, 3].map((n) => g.google.deliver(bob, { subject: `While disconnected ${n}`, html: linkHtml(`during${n}`) }));
    expect(await g.push(bob, during[0]!.historyId)).toBe(204);
    await waitUntil(async () => (await g.mailboxes.get(bob))?.state === 'needs_reauth', 5_000, 'needs_reauth');
    expect(await g.push(bob, during[2]!.historyId)).toBe(204); // answered and ignored while needs_reauth

    const reconnected = await g.reconnect(bob);
    expect(reconnected).toMatchObject({ state: 'active', resumed: true });
    expect(reconnected.lastError).toBeUndefined();
    // The stored position is kept (not the new watch's), so the gap is read.
    expect(reconnected.historyId).not.toBe(g.google.historyId(bob));
    expect(await g.push(bob, g.google.historyId(bob))).toBe(204);
    await waitDelivered(
      g,
      during.map((m) => m.id),
    );
    const after = g.google.deliver(bob, { subject: 'After reconnect', html: linkHtml('after') });
    expect(await g.push(bob, after.historyId)).toBe(204);
    await waitDelivered(g, [after.id]);
    await settle(800);
    for (const m of [first, ...during, after]) expect(countOf(g, m.id)).toBe(1);
    expect((await g.mailboxes.get(bob))?.historyId).toBe(g.google.historyId(bob));
  });

  it('a reconnect whose history position expired runs the full resync of the gap, never mail from before the connection', async () => {
    const carol = 'carol.gap@example.org';
    let old: { id: string } | undefined;
    await g.connect(carol, {
      before: () => {
        old = g.google.deliver(carol, {
          subject: 'Received before the connection',
          html: linkHtml('old'),
          receivedAt: Date.now() - 3_600_000,
        });
      },
    });
    g.google.revokeRefreshTokens(carol);
    g.google.expireAccessTokens();
    const gap = [1, 2].map((n) => g.google.deliver(carol, { subject: `Gap ${n}`, html: linkHtml(`cgap${n}`) }));
    expect(await g.push(carol, gap[0]!.historyId)).toBe(204);
    await waitUntil(async () => (await g.mailboxes.get(carol))?.state === 'needs_reauth', 5_000, 'needs_reauth');
    g.google.forgetHistory(carol); // the stored history id is now too old: Gmail answers 404
    const lists = g.google.calls.messagesList.length;
    expect((await g.reconnect(carol)).resumed).toBe(true);
    expect(await g.push(carol, g.google.historyId(carol))).toBe(204);
    await waitDelivered(
      g,
      gap.map((m) => m.id),
    );
    await settle(800);
    expect(g.google.calls.messagesList.length).toBeGreaterThan(lists);
    expect(countOf(g, old!.id)).toBe(0);
    for (const m of gap) expect(countOf(g, m.id)).toBe(1);
  });

  it('a 404 resync over more than one page delivers every message, within the bound', async () => {
    const dave = 'dave.pages@example.org';
    await g.connect(dave);
    g.google.capPages(7); // Gmail may answer pages smaller than maxResults
    try {
      const gap = Array.from({ length: 20 }, (_, n) => g.google.deliver(dave, { subject: `Paged ${n}`, html: linkHtml(`paged${n}`) }));
      g.google.forgetHistory(dave);
      const lists = g.google.calls.messagesList.length;
      expect(await g.push(dave, g.google.historyId(dave))).toBe(204);
      await waitDelivered(
        g,
        gap.map((m) => m.id),
        20_000,
      );
      const pages = g.google.calls.messagesList.slice(lists);
      expect(pages.length).toBeGreaterThanOrEqual(3);
      expect(pages.filter((p) => p.includes('pageToken=')).length).toBeGreaterThanOrEqual(2);
      await settle(500);
      for (const m of gap) expect(countOf(g, m.id)).toBe(1);
      expect((await g.mailboxes.get(dave))?.resyncTruncatedAt).toBeUndefined();
    } finally {
      g.google.capPages(undefined);
    }
  });

  it('delivers a message moved from spam to the inbox, once, whatever its later label changes', async () => {
    const erin = 'erin.spam@example.org';
    await g.connect(erin);
    const spam = g.google.deliver(erin, { subject: 'Flagged as spam', html: linkHtml('spam'), labelIds: ['SPAM', 'UNREAD'] });
    expect(await g.push(erin, spam.historyId)).toBe(204);
    await settle(800);
    expect(countOf(g, spam.id)).toBe(0); // spam is never sent

    g.google.relabel(erin, spam.id, { add: ['INBOX'], remove: ['SPAM'] }); // "Not spam"
    expect(await g.push(erin, g.google.historyId(erin))).toBe(204);
    await waitDelivered(g, [spam.id]);

    // Snoozed then back in the inbox: labelAdded INBOX again, deduplicated by message id.
    g.google.relabel(erin, spam.id, { add: ['SNOOZED'], remove: ['INBOX'] });
    g.google.relabel(erin, spam.id, { add: ['INBOX'], remove: ['SNOOZED'] });
    expect(await g.push(erin, g.google.historyId(erin))).toBe(204);
    await settle(800);
    expect(countOf(g, spam.id)).toBe(1);
  });

  it('delivers a snoozed message when it comes back to the inbox', async () => {
    const fred = 'fred.snooze@example.org';
    await g.connect(fred);
    // Snoozed before any sync saw it in the inbox: Gmail's history shows it without INBOX.
    const snoozed = g.google.deliver(fred, { subject: 'Snoozed until Monday', html: linkHtml('snoozed'), labelIds: ['SNOOZED'] });
    expect(await g.push(fred, snoozed.historyId)).toBe(204);
    await settle(600);
    expect(countOf(g, snoozed.id)).toBe(0);
    g.google.relabel(fred, snoozed.id, { add: ['INBOX', 'UNREAD'], remove: ['SNOOZED'] });
    expect(await g.push(fred, g.google.historyId(fred))).toBe(204);
    await waitDelivered(g, [snoozed.id]);
  });

  it('records an unconvertible message as failed (dead letter with its Gmail id, error label) and goes on with the next ones', async () => {
    const frank = 'frank.broken@example.org';
    await g.connect(frank, { modify: true });
    expect((await g.mailboxes.get(frank))?.labelErrors).toBe(true);
    const hugeTo = Array.from({ length: 1_500 }, (_, i) => `recipient${i}@example.org`).join(', ');
    const bad = g.google.deliver(frank, { subject: 'Huge To', html: linkHtml('huge'), to: hugeTo });
    const next = [1, 2].map((n) => g.google.deliver(frank, { subject: `After the broken one ${n}`, html: linkHtml(`next${n}`) }));
    expect(await g.push(frank, g.google.historyId(frank))).toBe(204);
    await waitDelivered(
      g,
      next.map((m) => m.id),
    );

    const queue = g.world.api.gmail.producer.queue;
    const deadLetter = async () => (await queue.getFailed()).find((j) => j.name === 'import-message' && j.data?.message_id === bad.id);
    await waitUntil(async () => (await deadLetter()) !== undefined, 10_000, 'dead-lettered import-message job');
    const job = (await deadLetter())!;
    expect(job.data).toMatchObject({ email_address: frank, message_id: bad.id });
    expect(job.failedReason).toContain(bad.id);
    expect(job.failedReason).toMatch(/\bto\b.*at most 32768/);
    // The Apps Script's error label, created and put on the message (the consent granted gmail.modify).
    await waitUntil(() => g.google.calls.modify.some((c) => c.id === bad.id), 5_000, 'error label');
    const labels = g.google.labelsOf(frank, bad.id);
    expect(labels.some((l) => l.startsWith('Label_'))).toBe(true);
    const doc = await health(g);
    expect(doc.metrics.dead_letters).toBeGreaterThanOrEqual(1);
    // The history moved on: a later message flows, the broken one is not re-read or re-queued.
    const later = g.google.deliver(frank, { subject: 'Later still', html: linkHtml('later') });
    expect(await g.push(frank, later.historyId)).toBe(204);
    await waitDelivered(g, [later.id]);
    expect(countOf(g, bad.id)).toBe(0);
    expect((await queue.getFailed()).filter((j) => j.data?.message_id === bad.id)).toHaveLength(1);
    // The replay CLI's path (`npm run replay -- <job-id> --queue gmail`): read again, still unreadable, failed again.
    const firstFinish = job.finishedOn!;
    expect(await replayFailedJobs(queue, { ids: [job.id!] })).toBe(1);
    await waitUntil(
      async () => {
        const again = await queue.getJob(job.id!);
        return (await again?.getState()) === 'failed' && (again?.finishedOn ?? 0) > firstFinish;
      },
      10_000,
      'replayed import-message failed again',
    );
    expect(countOf(g, bad.id)).toBe(0);
  });

  it('with disable_email_id_dedup on, a resync does not re-send what the sync already sent', async () => {
    const gina = 'gina.nodedup@example.org';
    await g.connect(gina);
    await operatorRequest(g.world, 'POST', '/api/update_runtime_flags', { disable_email_id_dedup: true });
    try {
      await settle(300); // the worker's settings cache follows the change notification
      const sent = g.google.deliver(gina, { subject: 'Sent once', html: linkHtml('once') });
      expect(await g.push(gina, sent.historyId)).toBe(204);
      await waitDelivered(g, [sent.id]);
      const fresh = g.google.deliver(gina, { subject: 'New after expiry', html: linkHtml('fresh') });
      g.google.forgetHistory(gina); // the stored history id is now too old: the full resync lists both
      const lists = g.google.calls.messagesList.length;
      expect(await g.push(gina, fresh.historyId)).toBe(204);
      await waitDelivered(g, [fresh.id]);
      await settle(800);
      // Counted where the ingress puts them: one email job each (the delivery stage may hide a second one).
      const emailJobs = await g.world.emailProducer.queue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed']);
      const jobsFor = (id: string) => emailJobs.filter((j) => (j.data as { email_id?: string }).email_id === id).length;
      expect(g.google.calls.messagesList.length).toBeGreaterThan(lists);
      expect(jobsFor(sent.id)).toBe(1);
      expect(jobsFor(fresh.id)).toBe(1);
      expect(countOf(g, sent.id)).toBe(1);
    } finally {
      await operatorRequest(g.world, 'POST', '/api/update_runtime_flags', { disable_email_id_dedup: false });
    }
  });

  it('marks a mailbox whose delegation was removed (unauthorized_client) as needing attention instead of retrying', async () => {
    const hank = 'hank.delegation@example.org';
    await g.connect(hank);
    g.google.refuseRefresh(hank, 'unauthorized_client');
    g.google.expireAccessTokens();
    const message = g.google.deliver(hank, { subject: 'Unreachable', html: linkHtml('unauthorized') });
    expect(await g.push(hank, message.historyId)).toBe(204);
    await waitUntil(async () => (await g.mailboxes.get(hank))?.state === 'needs_reauth', 5_000, 'needs_reauth');
    expect((await g.mailboxes.get(hank))?.lastError).toBe('unauthorized_client');
    const doc = await health(g);
    expect(doc.problems).toContain('gmail_needs_reauth');
    expect(doc.gmail.mailboxes.find((m) => m.mailbox === 'h***@example.org')).toMatchObject({
      state: 'needs_reauth',
      last_error: 'unauthorized_client',
    });
  });

  it('waits out a Gmail 429 as Retry-After asks, without failing the sync', async () => {
    const ivan = 'ivan.ratelimit@example.org';
    await g.connect(ivan);
    const queue = g.world.api.gmail.producer.queue;
    const limitedBefore = g.google.calls.rateLimited;
    const message = g.google.deliver(ivan, { subject: 'Rate limited', html: linkHtml('ratelimit') });
    g.google.rateLimit(2, 2);
    const pushedAt = Date.now();
    expect(await g.push(ivan, message.historyId)).toBe(204);
    await waitDelivered(g, [message.id], 15_000);
    const webhook = g.sink.received.find((r) => r.json?.message_id === message.id)!;
    expect(g.google.calls.rateLimited - limitedBefore).toBe(2);
    expect(webhook.receivedAt - pushedAt).toBeGreaterThanOrEqual(3_900); // two Retry-After: 2
    // Waited inside the call: the sync job itself never failed an attempt.
    const syncs = (await queue.getJobs(['completed'])).filter((j) => j.name === 'sync' && j.data?.email_address === ivan);
    expect(syncs.length).toBeGreaterThan(0);
    expect(syncs.every((j) => (j.stacktrace ?? []).length === 0)).toBe(true);
  });

  it("accepts push tokens with either of Google's issuer forms", async () => {
    for (const iss of ['https://accounts.google.com', 'accounts.google.com']) {
      const bearer = await g.google.signPushToken({ aud: PUSH_AUDIENCE, email: PUSH_SERVICE_ACCOUNT, iss });
      expect(await g.push('bob.reauth@example.org', g.google.historyId('bob.reauth@example.org'), { bearer })).toBe(204);
    }
  });
});

describe('Gmail push with a user label filter', () => {
  let g: GmailWorld;
  beforeAll(async () => {
    // The fake numbers user labels Label_1, Label_2… per mailbox store: the first one created is Label_1.
    g = await startGmailWorld({ env: { GMAIL_LABEL_FILTER: 'Label_1' } });
  });
  afterAll(async () => {
    await g.close();
  });

  it('delivers a message labelled after it arrived', async () => {
    const judy = 'judy.labels@example.org';
    await g.connect(judy, { before: () => expect(g.google.createUserLabel(judy, 'A_TRANSFERER_WEBHOOK')).toBe('Label_1') });
    const message = g.google.deliver(judy, { subject: 'Labelled later', html: linkHtml('labelled') });
    expect(await g.push(judy, message.historyId)).toBe(204);
    await settle(800);
    expect(countOf(g, message.id)).toBe(0); // not labelled yet
    g.google.relabel(judy, message.id, { add: ['Label_1'] });
    expect(await g.push(judy, g.google.historyId(judy))).toBe(204);
    await waitDelivered(g, [message.id]);
  });
});

describe('Gmail push with a label name instead of an id in GMAIL_LABEL_FILTER', () => {
  let g: GmailWorld;
  beforeAll(async () => {
    g = await startGmailWorld({ env: { GMAIL_LABEL_FILTER: 'A_TRANSFERER_WEBHOOK' } });
  });
  afterAll(async () => {
    await g.close();
  });

  it('gmail:connect refuses it with the id to use', async () => {
    const kate = 'kate.name@example.org';
    await expect(g.connect(kate, { before: () => g.google.createUserLabel(kate, 'A_TRANSFERER_WEBHOOK') })).rejects.toThrow(
      /"A_TRANSFERER_WEBHOOK" is a label name.*GMAIL_LABEL_FILTER=Label_\d+/,
    );
    expect(await g.mailboxes.get(kate)).toBeNull();
  });

  it('a sync reports it in /health instead of resyncing again and again', async () => {
    const leo = 'leo.name@example.org';
    g.google.addMailbox(leo);
    g.google.createUserLabel(leo, 'A_TRANSFERER_WEBHOOK');
    // Connected earlier without the filter (or the filter changed since): the worker meets the name.
    await connectOAuthMailbox({
      address: leo,
      code: g.google.issueCode(leo),
      redirectUri: 'http://localhost',
      oauth: { tokenUrl: g.google.tokenUrl, clientId: 'test-client-id', clientSecret: 'test-client-secret' },
      watch: { gmailBaseUrl: g.google.url, topicName: TEST_TOPIC, labelIds: [] },
      mailboxes: g.mailboxes,
    });
    const lists = g.google.calls.messagesList.length;
    for (let n = 0; n < 3; n += 1) {
      const message = g.google.deliver(leo, { subject: `Name filter ${n}`, html: linkHtml(`name${n}`) });
      expect(await g.push(leo, message.historyId)).toBe(204);
      await settle(400);
    }
    await waitUntil(async () => (await g.mailboxes.get(leo))?.syncError !== undefined, 5_000, 'sync_error');
    expect((await g.mailboxes.get(leo))?.syncError).toMatch(/label name.*GMAIL_LABEL_FILTER=Label_\d+/);
    expect(g.google.calls.messagesList.length).toBe(lists); // no resync loop
    const doc = await health(g);
    expect(doc.problems).toContain('gmail_sync_failing');
    expect(doc.gmail.mailboxes.find((m) => m.mailbox === 'l***@example.org')?.sync_error).toMatch(/label name/);
  });
});

describe('Gmail push operations in /health', () => {
  let g: GmailWorld;
  beforeAll(async () => {
    g = await startGmailWorld({
      env: { GMAIL_POLL_INTERVAL: '300ms', GMAIL_WATCH_RENEW_INTERVAL: '400ms', GMAIL_RESYNC_MAX_MESSAGES: '5' },
    });
  });
  afterAll(async () => {
    await g.close();
  });

  it('shows a failed watch renewal at once and a stale sync, and clears both when Gmail answers again', async () => {
    const mia = 'mia.outage@example.org';
    await g.connect(mia);
    await waitUntil(async () => (await g.mailboxes.get(mia))?.lastSyncAt !== undefined, 5_000, 'first poll sync');
    expect(await mailboxHealth(g, 'm***@example.org')).toMatchObject({ renewal_failed: false, stale_sync: false });

    g.google.outage(mia, 503);
    await waitUntil(
      async () => {
        const m = await mailboxHealth(g, 'm***@example.org');
        return Boolean(m?.renewal_failed && m.stale_sync);
      },
      10_000,
      'renewal_failed and stale_sync in /health',
    );
    const doc = await health(g);
    expect(doc.status).toBe('degraded');
    expect(doc.problems).toEqual(expect.arrayContaining(['gmail_watch_renewal_failed', 'gmail_sync_stale']));
    expect(doc.problems).not.toContain('gmail_watch_expired'); // reported before the watch lapses
    expect(doc.gmail).toMatchObject({ renewal_failed: 1, stale_sync: 1 });
    expect(doc.gmail.mailboxes.find((m) => m.mailbox === 'm***@example.org')?.renewal_error).toMatch(/503/);

    g.google.outage(mia, undefined);
    await waitUntil(
      async () => {
        const m = await mailboxHealth(g, 'm***@example.org');
        return m?.renewal_failed === false && m.stale_sync === false;
      },
      10_000,
      'renewal and sync recovered',
    );
  });

  it('flags a resync cut short by GMAIL_RESYNC_MAX_MESSAGES; the newest messages are delivered', async () => {
    const ned = 'ned.bound@example.org';
    await g.connect(ned);
    const gap = Array.from({ length: 8 }, (_, n) => g.google.deliver(ned, { subject: `Bounded ${n}`, html: linkHtml(`bounded${n}`) }));
    g.google.forgetHistory(ned);
    expect(await g.push(ned, g.google.historyId(ned))).toBe(204);
    await waitDelivered(
      g,
      gap.slice(-5).map((m) => m.id),
    );
    await waitUntil(async () => (await mailboxHealth(g, 'n***@example.org'))?.resync_truncated === true, 5_000, 'resync_truncated');
    const doc = await health(g);
    expect(doc.problems).toContain('gmail_resync_truncated');
    await settle(500);
    for (const m of gap.slice(0, 3)) expect(countOf(g, m.id)).toBe(0);
  });
});
