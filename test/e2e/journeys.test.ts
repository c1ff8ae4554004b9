import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { operatorRequest, sampleEmail, startWorld, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/**
 * The operator console's API against real Redis, API and workers: an email's journey with every attempt,
 * search, re-delivery with the same webhook-id, cancel, the hourly figures, and the operator guard.
 */

interface Attempt {
  attempt: number;
  outcome: string;
  status_code: number | null;
  duration_ms: number;
  response_excerpt: string | null;
  failure_reason: string | null;
  redelivery: boolean;
}
interface Target {
  webhook_id: string;
  target: string;
  state: string;
  payload: string | null;
  job_ids: string[];
  attempts: Attempt[];
}
interface Journey {
  email_id: string;
  status: string;
  received: { source: string; subject: string; sender: string; job_id: string | null };
  detection: { detector: string | null };
  window: { reason: string; send: boolean };
  links: Array<{ provider: string }>;
  targets: Target[];
}

describe('email journeys API', () => {
  let sink: WebhookSink;
  let world: World;

  beforeAll(async () => {
    sink = await startWebhookSink();
    world = await startWorld({
      env: { WEBHOOK_URL: `${sink.url}`, DELIVERY_RETRY_SCHEDULE: '300ms,5s,5s', DELIVERY_RETRY_JITTER: '0' },
    });
  });
  afterAll(async () => {
    await world?.close();
    await sink?.close();
  });

  const journeyOf = async (emailId: string) => {
    const res = await operatorRequest(world, 'GET', `/api/emails/${emailId}`);
    expect(res.status).toBe(200);
    return res.json.journey as Journey;
  };
  /** While waiting: an email job writes its journey when it ends (404 until then). */
  const journeyOnceWritten = async (emailId: string) => {
    const res = await operatorRequest(world, 'GET', `/api/emails/${emailId}`);
    if (res.status === 404) return undefined;
    expect(res.status).toBe(200);
    return res.json.journey as Journey;
  };

  it('shows both attempts of a target that answered 500 then 200, finds the email by a word of its subject, counts it', async () => {
    sink.script.push({ status: 500, body: 'Internal error: database is down' });
    const word = `Zebulon${Date.now()}`;
    const posted = await world.post(sampleEmail({ subject: `Livraison ${word} du matin`, sender: 'Claire <claire@example.org>' }));
    expect(posted.status).toBe(200);
    const emailId = String(posted.json.email_id);
    await sink.waitFor(1, 15_000);

    let journey: Journey | undefined;
    await waitUntil(
      async () => {
        journey = await journeyOnceWritten(emailId);
        return journey?.status === 'delivered';
      },
      15_000,
      'the journey to show the delivery',
    );
    expect(journey!.received).toMatchObject({
      source: 'apps_script',
      subject: `Livraison ${word} du matin`,
      sender: 'Claire <claire@example.org>',
    });
    expect(journey!.received.job_id).toBeTruthy();
    expect(journey!.window).toEqual({ reason: 'no_window', send: true });
    expect(journey!.links.map((l) => l.provider)).toEqual(['dropbox']);
    expect(journey!.targets).toHaveLength(1);
    const target = journey!.targets[0]!;
    // Masked: the target's path never leaves the server.
    expect(target.target).toBe(`http://127.0.0.1:${sink.port}/***`);
    expect(target.attempts.map((a) => [a.attempt, a.outcome, a.status_code])).toEqual([
      [1, 'retrying', 500],
      [2, 'delivered', 200],
    ]);
    expect(target.attempts[0]!.failure_reason).toBe('upstream_server_error');
    expect(target.attempts[0]!.response_excerpt).toBe('Internal error: database is down');
    // The exact body that was signed and sent.
    expect(target.payload).toBe(sink.received[0]!.body);

    // Search: a word of the subject, case-insensitive; the status filter; another word finds nothing.
    const found = await operatorRequest(world, 'GET', `/api/emails?query=${word.toLowerCase()}`);
    expect(found.status).toBe(200);
    expect((found.json.emails as Array<{ email_id: string; status: string }>).map((e) => [e.email_id, e.status])).toEqual([
      [emailId, 'delivered'],
    ]);
    const byStatus = await operatorRequest(world, 'GET', `/api/emails?query=${word}&status=failed`);
    expect(byStatus.json.emails).toEqual([]);
    const byId = await operatorRequest(world, 'GET', `/api/emails?query=${emailId}`);
    expect((byId.json.emails as unknown[]).length).toBe(1);
    const bySender = await operatorRequest(world, 'GET', `/api/emails?query=claire%20${word}`);
    expect((bySender.json.emails as unknown[]).length).toBe(1);

    // The hourly figures count it: received, delivered, one retried attempt, a latency.
    const stats = await operatorRequest(world, 'GET', '/api/stats?hours=24');
    expect(stats.status).toBe(200);
    const hours = stats.json.hours as Array<{ hour: string; received: number; delivered: number; retries: number; p50_ms: number | null }>;
    expect(hours).toHaveLength(24);
    const current = hours.at(-1)!;
    expect(current.received).toBeGreaterThanOrEqual(1);
    expect(current.delivered).toBeGreaterThanOrEqual(1);
    expect(current.retries).toBeGreaterThanOrEqual(1);
    expect(current.p50_ms).toBeGreaterThan(0);
    expect(stats.json.last_received_at).toEqual(expect.any(String));
    expect(stats.json.last_delivered_at).toEqual(expect.any(String));
  }, 40_000);

  it('re-delivers with the same webhook-id and shows the new attempt', async () => {
    const before = sink.received.length;
    const posted = await world.post(sampleEmail({ subject: `Renvoi ${Date.now()}` }));
    const emailId = String(posted.json.email_id);
    await sink.waitFor(before + 1);
    await waitUntil(async () => (await journeyOnceWritten(emailId))?.status === 'delivered', 10_000, 'delivered');
    const firstId = sink.received.at(-1)!.headers['webhook-id'];
    // Delivered by its email job (the fast path): no delivery job holds the payload, the journey's `sent` event does.
    expect(await world.deliveryProducer.queue.getJob(String(firstId))).toBeUndefined();
    expect((await journeyOf(emailId)).targets[0]!.payload).toBe(sink.received.at(-1)!.body);

    const res = await operatorRequest(world, 'POST', `/api/emails/${emailId}/redeliver`, {});
    expect(res.status).toBe(202);
    await sink.waitFor(before + 2);
    const again = sink.received.at(-1)!;
    expect(again.headers['webhook-id']).toBe(firstId);
    expect(again.body).toBe(sink.received[before]!.body);

    await waitUntil(async () => (await journeyOf(emailId)).targets[0]!.attempts.length === 2, 10_000, 'the re-delivery attempt');
    const target = (await journeyOf(emailId)).targets[0]!;
    expect(target.attempts.map((a) => [a.outcome, a.redelivery])).toEqual([
      ['delivered', false],
      ['delivered', true],
    ]);
    expect(target.job_ids).toHaveLength(2);

    // One target by webhook_id; an unknown one is a 404.
    expect((await operatorRequest(world, 'POST', `/api/emails/${emailId}/redeliver`, { webhook_id: 'msg_nope' })).status).toBe(404);
    const one = await operatorRequest(world, 'POST', `/api/emails/${emailId}/redeliver`, { webhook_id: target.webhook_id });
    expect(one.status).toBe(202);
    await sink.waitFor(before + 3);
    expect(sink.received.at(-1)!.headers['webhook-id']).toBe(firstId);
  }, 40_000);

  it('cancels pending retries', async () => {
    sink.script.push({ status: 503, body: 'busy' }, { status: 503, body: 'busy' });
    const posted = await world.post(sampleEmail({ subject: `Annulation ${Date.now()}` }));
    const emailId = String(posted.json.email_id);
    // Two 503s (retries after 300 ms, then 5 s): the third attempt is pending, with its due time shown.
    await waitUntil(
      async () => {
        const t = (await journeyOnceWritten(emailId))?.targets[0] as (Target & { next_attempt_at: string | null }) | undefined;
        return t?.attempts.length === 2 && t.state === 'retrying' && t.next_attempt_at !== null;
      },
      10_000,
      'the second attempt and its retry',
    );
    const pending = await journeyOf(emailId);
    // The due time BullMQ applied, from the event that shows it (no jitter here): the schedule's 5 s exactly,
    // whatever the machine's load (no wall-clock reading of the test's own).
    const scheduled = (
      pending as unknown as { timeline: Array<{ at: string; type: string; detail: { next_attempt_at?: string } }> }
    ).timeline
      .filter((e) => e.type === 'retry_scheduled')
      .at(-1)!;
    expect(Date.parse(scheduled.detail.next_attempt_at!) - Date.parse(scheduled.at)).toBe(5_000);
    expect((pending.targets[0] as Target & { next_attempt_at: string }).next_attempt_at).toBe(scheduled.detail.next_attempt_at);
    const res = await operatorRequest(world, 'POST', `/api/emails/${emailId}/cancel`);
    expect(res.status).toBe(200);
    expect((res.json.cancelled as unknown[]).length).toBe(1);
    const journey = await journeyOf(emailId);
    expect(journey.targets[0]!.state).toBe('cancelled');
    expect(journey.status).toBe('failed');
    const failed = await operatorRequest(world, 'GET', `/api/emails?query=${emailId}&status=failed`);
    expect((failed.json.emails as unknown[]).length).toBe(1);
    // Nothing left to cancel.
    expect(((await operatorRequest(world, 'POST', `/api/emails/${emailId}/cancel`)).json.cancelled as unknown[]).length).toBe(0);
  }, 30_000);

  it('answers 400 to bad filters, 404 to an unknown email, 401 without a session and 403 without the CSRF token', async () => {
    expect((await operatorRequest(world, 'GET', '/api/emails?status=lost')).status).toBe(400);
    expect((await operatorRequest(world, 'GET', '/api/emails?since=yesterday')).status).toBe(400);
    expect((await operatorRequest(world, 'GET', '/api/stats?hours=0')).status).toBe(400);
    const missing = await operatorRequest(world, 'GET', '/api/emails/unknown-email-id');
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe('email_not_found');
    expect((await fetch(`${world.apiUrl}/api/emails`)).status).toBe(401);
    expect((await fetch(`${world.apiUrl}/api/stats`)).status).toBe(401);
    const session = await fetch(`${world.apiUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: 'test-dashboard-password' }).toString(),
    });
    const cookie = session.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const noCsrf = await fetch(`${world.apiUrl}/api/emails/whatever/redeliver`, { method: 'POST', headers: { cookie } });
    expect(noCsrf.status).toBe(403);
  });

  it('pages newest first with a cursor, and filters by date range', async () => {
    const tag = `Pagination${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const posted = await world.post(sampleEmail({ subject: `${tag} ${i}` }));
      ids.push(String(posted.json.email_id));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitUntil(
      async () => ((await operatorRequest(world, 'GET', `/api/emails?query=${tag}`)).json.emails as unknown[]).length === 3,
      10_000,
      'three journeys',
    );
    const first = await operatorRequest(world, 'GET', `/api/emails?query=${tag}&limit=2`);
    expect((first.json.emails as Array<{ email_id: string }>).map((e) => e.email_id)).toEqual([ids[2], ids[1]]);
    const second = await operatorRequest(world, 'GET', `/api/emails?query=${tag}&limit=2&cursor=${String(first.json.next_cursor)}`);
    expect((second.json.emails as Array<{ email_id: string }>).map((e) => e.email_id)).toEqual([ids[0]]);
    expect(second.json.next_cursor).toBeNull();
    const future = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await operatorRequest(world, 'GET', `/api/emails?query=${tag}&since=${future}`)).json.emails).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    const ranged = await operatorRequest(world, 'GET', `/api/emails?query=${tag}&since=${today}&until=${today}`);
    expect((ranged.json.emails as unknown[]).length).toBe(3);
  }, 30_000);
});
