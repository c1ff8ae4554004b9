import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HEALTH_CACHE_MS } from '../../apps/api/src/routes/health';
import { operatorRequest, waitUntil } from '../helpers/world';
import { deliveredMessageIds, linkHtml, PUSH_AUDIENCE, PUSH_SERVICE_ACCOUNT, startGmailWorld, type GmailWorld } from './gmail-world';

/** Gmail push end to end: Pub/Sub push → API → sync job → history.list/messages.get (fake) → pipeline → webhook. */
describe('Gmail push ingress', () => {
  let g: GmailWorld;
  const alice = 'alice.mailbox@example.org';
  const gmailJobsTotal = async () => {
    const counts = await g.world.api.gmail.producer.queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'completed',
      'failed',
      'prioritized',
    );
    return Object.values(counts).reduce((a, b) => a + b, 0);
  };
  const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    g = await startGmailWorld();
    await g.connect(alice);
  });
  afterAll(async () => {
    await g.close();
  });

  it('delivers a new message as a webhook within 2 s of the push, with the ingress fields', async () => {
    const message = g.google.deliver(alice, { subject: 'Facture mars', from: 'Bob Sender <bob@example.org>', html: linkHtml('first') });
    const pushedAt = Date.now();
    expect(await g.push(alice, message.historyId)).toBe(204);
    const [webhook] = await g.sink.waitFor(1, 2_000);
    expect(webhook!.receivedAt - pushedAt).toBeLessThan(2_000);
    expect(webhook!.json).toMatchObject({
      subject: 'Facture mars',
      sender_address: 'Bob Sender <bob@example.org>',
      sender_email: 'bob@example.org',
      message_id: message.id,
      thread_id: message.id,
    });
    expect((await g.mailboxes.get(alice))?.historyId).toBe(g.google.historyId(alice));
    // The operator console says how it arrived.
    const emailId = String(webhook!.json!.email_id);
    await waitUntil(
      async () =>
        ((await operatorRequest(g.world, 'GET', `/api/emails/${emailId}`)).json.journey as { status?: string })?.status === 'delivered',
      5_000,
      'the journey',
    );
    const journey = (await operatorRequest(g.world, 'GET', `/api/emails/${emailId}`)).json.journey as { received: { source: string } };
    expect(journey.received.source).toBe('gmail_push');
  });

  it('sends one webhook per message for duplicated and out-of-order notifications', async () => {
    const before = g.sink.received.length;
    const messages = [1, 2, 3].map((n) => g.google.deliver(alice, { subject: `Burst ${n}`, html: linkHtml(`burst${n}`) }));
    const order = [messages[2]!, messages[0]!, messages[1]!, messages[2]!, messages[0]!, messages[0]!];
    const statuses = await Promise.all(order.map((m) => g.push(alice, m.historyId)));
    expect(statuses.every((s) => s === 204)).toBe(true);
    await g.sink.waitFor(before + 3, 5_000);
    await settle(800);
    const ids = deliveredMessageIds(g.sink).slice(before);
    expect(ids.sort()).toEqual(messages.map((m) => m.id).sort());
  });

  it('answers 204 to stale and unknown-mailbox notifications without enqueuing a sync', async () => {
    await waitUntil(
      async () =>
        (await g.world.api.gmail.producer.queue.getActiveCount()) + (await g.world.api.gmail.producer.queue.getWaitingCount()) === 0,
      5_000,
      'gmail queue idle',
    );
    const jobs = await gmailJobsTotal();
    expect(await g.push(alice, 5)).toBe(204); // older than the stored history id
    expect(await g.push('nobody@example.org', 99_999)).toBe(204);
    expect(await gmailJobsTotal()).toBe(jobs);
  });

  it('resyncs the newest messages after a history 404, without sending any twice', async () => {
    const before = g.sink.received.length;
    const sentBefore = new Set(deliveredMessageIds(g.sink));
    const missed = [
      g.google.deliver(alice, { subject: 'Gap 1', html: linkHtml('gap1') }),
      g.google.deliver(alice, { subject: 'Gap 2', html: linkHtml('gap2') }),
    ];
    g.google.forgetHistory(alice);
    const historyCalls = g.google.calls.history.length;
    expect(await g.push(alice, g.google.historyId(alice))).toBe(204);
    await g.sink.waitFor(before + 2, 5_000);
    await settle(800);
    expect(g.google.calls.history.length).toBeGreaterThan(historyCalls);
    // The full resync: messages.list with the label filter, since the mailbox was connected (epoch seconds).
    expect(g.google.calls.messagesList).toHaveLength(1);
    const listed = Object.fromEntries(new URLSearchParams(g.google.calls.messagesList[0]));
    expect(listed).toMatchObject({ maxResults: '500', labelIds: 'INBOX' });
    const connectedAt = (await g.mailboxes.get(alice))!.connectedAt;
    expect(listed.q).toBe(`after:${Math.floor(connectedAt / 1000)}`);
    const ids = deliveredMessageIds(g.sink);
    expect(ids.slice(before).sort()).toEqual(missed.map((m) => m.id).sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...sentBefore].every((id) => ids.filter((x) => x === id).length === 1)).toBe(true);
    expect((await g.mailboxes.get(alice))?.historyId).toBe(g.google.historyId(alice));
  });

  it('refreshes an expired access token and completes the sync', async () => {
    const before = g.sink.received.length;
    const refreshes = g.google.calls.token.filter((t) => t.grant_type === 'refresh_token').length;
    const unauthorized = g.google.calls.unauthorized;
    g.google.expireAccessTokens();
    const message = g.google.deliver(alice, { subject: 'After expiry', html: linkHtml('expiry') });
    expect(await g.push(alice, message.historyId)).toBe(204);
    await g.sink.waitFor(before + 1, 5_000);
    expect(deliveredMessageIds(g.sink).at(-1)).toBe(message.id);
    expect(g.google.calls.unauthorized).toBeGreaterThan(unauthorized);
    expect(g.google.calls.token.filter((t) => t.grant_type === 'refresh_token').length).toBe(refreshes + 1);
  });

  it('syncs a Workspace mailbox connected by domain-wide delegation (JWT bearer grant)', async () => {
    const workspace = 'frank.workspace@example.org';
    await g.connectDelegated(workspace);
    const before = g.sink.received.length;
    const message = g.google.deliver(workspace, { subject: 'Delegated', html: linkHtml('delegated') });
    expect(await g.push(workspace, message.historyId)).toBe(204);
    await g.sink.waitFor(before + 1, 5_000);
    expect(deliveredMessageIds(g.sink).at(-1)).toBe(message.id);
    expect(await g.mailboxes.get(workspace)).toMatchObject({ auth: 'service_account', state: 'active' });
    expect(g.google.calls.token.some((t) => t.grant_type === 'urn:ietf:params:oauth:grant-type:jwt-bearer')).toBe(true);
  });

  describe('push authentication', () => {
    const cases: Array<[string, () => Promise<string | undefined>]> = [
      ['no Authorization header', async () => ''],
      [
        'a token signed by another key (forged)',
        () => g.google.signPushToken({ aud: PUSH_AUDIENCE, email: PUSH_SERVICE_ACCOUNT, foreignKey: true }),
      ],
      [
        'an expired token',
        () => g.google.signPushToken({ aud: PUSH_AUDIENCE, email: PUSH_SERVICE_ACCOUNT, expiresIn: Math.floor(Date.now() / 1000) - 120 }),
      ],
      ['the wrong audience', () => g.google.signPushToken({ aud: 'https://someone-else.example/push', email: PUSH_SERVICE_ACCOUNT })],
      [
        'the wrong service account',
        () => g.google.signPushToken({ aud: PUSH_AUDIENCE, email: 'attacker@evil-project.iam.gserviceaccount.com' }),
      ],
      ['an unverified email', () => g.google.signPushToken({ aud: PUSH_AUDIENCE, email: PUSH_SERVICE_ACCOUNT, email_verified: false })],
      ['the wrong issuer', () => g.google.signPushToken({ aud: PUSH_AUDIENCE, email: PUSH_SERVICE_ACCOUNT, iss: 'https://evil.example' })],
      ['a token that is not a JWT', async () => 'not-a-jwt'],
    ];
    it.each(cases)('answers 401 and enqueues nothing for %s', async (_label, token) => {
      const message = g.google.deliver(alice, { subject: 'Unauthenticated push', html: linkHtml('unauth') });
      const jobs = await gmailJobsTotal();
      expect(await g.push(alice, message.historyId, { bearer: (await token()) ?? '' })).toBe(401);
      expect(await gmailJobsTotal()).toBe(jobs);
    });

    it.each([
      ['not JSON', '{"message":'],
      ['no message', JSON.stringify({ subscription: 'projects/p/subscriptions/s' })],
      ['data not base64 JSON', JSON.stringify({ message: { data: '%%%' } })],
      [
        'data without historyId',
        JSON.stringify({ message: { data: Buffer.from(JSON.stringify({ emailAddress: alice })).toString('base64') } }),
      ],
    ])('answers 400 to a malformed body: %s', async (_label, body) => {
      const bearer = await g.google.signPushToken({ aud: PUSH_AUDIENCE, email: PUSH_SERVICE_ACCOUNT });
      const res = await fetch(`${g.world.apiUrl}/api/ingress/gmail/pubsub`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body,
      });
      expect(res.status).toBe(400);
    });
  });

  it('marks a mailbox whose refresh token was revoked as needs_reauth, shown in /health, and stops syncing it', async () => {
    const bob = 'bob.mailbox@example.org';
    await g.connect(bob);
    const before = g.sink.received.length;
    g.google.revokeRefreshTokens(bob);
    g.google.expireAccessTokens();
    const message = g.google.deliver(bob, { subject: 'Never sent', html: linkHtml('revoked') });
    expect(await g.push(bob, message.historyId)).toBe(204);
    await waitUntil(async () => (await g.mailboxes.get(bob))?.state === 'needs_reauth', 5_000, 'needs_reauth');
    await new Promise((resolve) => setTimeout(resolve, HEALTH_CACHE_MS + 100)); // /health's facts turn over
    const health = (await (await fetch(`${g.world.apiUrl}/health`)).json()) as { problems: string[]; gmail: Record<string, unknown> };
    expect(health.problems).toContain('gmail_needs_reauth');
    expect(health.gmail).toMatchObject({ enabled: true, connected: 3, active: 2, needs_reauth: 1 });
    expect(health.gmail.mailboxes).toEqual(
      expect.arrayContaining([expect.objectContaining({ mailbox: 'b***@example.org', state: 'needs_reauth' })]),
    );
    expect(JSON.stringify(health)).not.toMatch(/ya29\.|1\/\/|v1\./);
    // Further notifications for it are answered and ignored: no job, no webhook.
    const historyCalls = g.google.calls.history.length;
    expect(await g.push(bob, Number(message.historyId) + 10)).toBe(204);
    await settle(500);
    expect(g.google.calls.history.length).toBe(historyCalls);
    expect(deliveredMessageIds(g.sink).slice(before)).not.toContain(message.id);
  });
});
