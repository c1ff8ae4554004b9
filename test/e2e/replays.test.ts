import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { operatorRequest, sampleEmail, startWorld, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/**
 * Bulk replay through the operator API against real Redis, API and workers: dead letters selected by a filter
 * (dry run), bad input, a paced replay that resends each with its original webhook-id, cancel, the journey line.
 */

interface Replay {
  id: string;
  state: string;
  total: number;
  sent: number;
  delivered: number;
  failed: number;
  remaining: number;
  started_at: string | null;
  finished_at: string | null;
}

describe('bulk replay API', () => {
  let sink: WebhookSink;
  let world: World;
  const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
  const EMAILS = NAMES.length;
  const since = new Date(Date.now() - 60_000).toISOString();

  beforeAll(async () => {
    sink = await startWebhookSink();
    sink.defaultResponse = { status: 500, body: 'down' };
    world = await startWorld({
      env: { WEBHOOK_URL: `${sink.url}/hook`, DELIVERY_RETRY_SCHEDULE: '50ms,50ms', DELIVERY_RETRY_JITTER: '0' },
    });
    for (const name of NAMES) expect((await world.post(sampleEmail({ subject: `Panne ${name}` }))).status).toBe(200);
  });
  let ruleSink: WebhookSink;
  afterAll(async () => {
    await world?.close();
    await sink?.close();
    await ruleSink?.close();
  });

  const replays = (body: unknown) => operatorRequest(world, 'POST', '/api/replays', body);
  const replayOf = async (id: string) => (await operatorRequest(world, 'GET', `/api/replays/${id}`)).json as unknown as Replay;
  const dryRun = async (filter: Record<string, unknown>) => replays({ filter, dry_run: true });

  it('the dry run counts the dead letters of that target since a time, and none for another target', async () => {
    await waitUntil(
      async () => (await dryRun({ status: 'dead_lettered', target: `${sink.url}/hook`, since })).json.count === EMAILS,
      20_000,
      'every email dead-lettered',
    );
    const answer = await dryRun({ status: 'dead_lettered', target: `${sink.url}/hook`, since });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      count: EMAILS,
      emails: EMAILS,
      per_target: [{ count: EMAILS, target: expect.stringContaining('***') }],
    });
    expect((answer.json.sample as unknown[]).length).toBe(EMAILS);
    expect(answer.json.notes).toMatchObject({ journeys_kept_days: 7, dead_letters_kept: EMAILS, dead_letters_outside_journeys: 0 });
    expect((await dryRun({ status: 'dead_lettered', target: 'https://other.example.org/hook', since })).json.count).toBe(0);
    expect((await dryRun({ status: 'delivered' })).json.count).toBe(0);
    expect((await dryRun({ status: 'dead_lettered', until: since })).json.count).toBe(0);
  });

  it.each<[string, unknown, number, string]>([
    ['unknown status', { filter: { status: 'lost' }, dry_run: true }, 400, 'invalid_status'],
    ['inverted range', { filter: { since: '2026-12-02', until: '2026-12-01' }, dry_run: true }, 400, 'invalid_range'],
    ['rate 0', { rate_per_s: 0 }, 400, 'invalid_rate'],
    ['rate above the limit', { rate_per_s: 100_000 }, 400, 'rate_too_high'],
    ['unknown rule', { filter: { rule: 'nope' } }, 400, 'unknown_rule'],
    ['not a target', { filter: { target: 'nope' } }, 400, 'invalid_target'],
    ['unknown field', { filter: { colour: 'red' } }, 400, 'invalid_request'],
  ])('refuses %s', async (_label, body, status, code) => {
    const res = await replays(body);
    expect(res.status).toBe(status);
    expect(res.json.code).toBe(code);
  });

  it('an unknown replay id is a 404', async () => {
    for (const [method, path] of [
      ['GET', '/api/replays/rp_nope'],
      ['POST', '/api/replays/rp_nope/cancel'],
      ['GET', '/api/replays/bad id'],
    ] as const) {
      const res = await operatorRequest(world, method, path);
      expect(res.status).toBe(404);
      expect(res.json.code).toBe('replay_not_found');
    }
  });

  it('replays each dead letter once, paced, with its original webhook-id, and says so in the journey', async () => {
    const originalIds = new Set(sink.requests.map((r) => r.headers['webhook-id']));
    expect(originalIds.size).toBe(EMAILS);
    sink.defaultResponse = { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } };
    const started = Date.now();
    const res = await replays({ filter: { status: 'dead_lettered', target: `${sink.url}/hook`, since }, rate_per_s: 4 });
    expect(res.status).toBe(202);
    expect(res.json.total).toBe(EMAILS);
    const id = res.json.id as string;
    await waitUntil(async () => (await replayOf(id)).state === 'done', 20_000, 'replay done');
    // 8 at 4/s: the last one is queued 1.75 s after the first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_700);
    expect(await replayOf(id)).toMatchObject({ total: EMAILS, sent: EMAILS, delivered: EMAILS, failed: 0, remaining: 0 });
    const sentIds = sink.received.map((r) => r.headers['webhook-id']);
    expect(sentIds.length).toBe(EMAILS);
    expect(new Set(sentIds)).toEqual(originalIds);
    const list = await operatorRequest(world, 'GET', '/api/replays');
    expect((list.json.replays as Replay[]).map((r) => r.id)).toContain(id);
    const emailId = (sink.received[0]!.json as { email_id?: string } | undefined)?.email_id;
    expect(emailId).toBeTruthy();
    const journey = await operatorRequest(world, 'GET', `/api/emails/${emailId}`);
    const timeline = (journey.json.journey as { timeline: Array<{ type: string; detail: Record<string, unknown> }> }).timeline;
    expect(timeline).toContainEqual(expect.objectContaining({ type: 'redelivered', detail: expect.objectContaining({ replay_id: id }) }));
    // Delivered now: the same dead-letter filter selects nothing any more.
    expect((await dryRun({ status: 'dead_lettered', since })).json.count).toBe(0);
  });

  it('a cancelled replay stops within a second and sends nothing more', async () => {
    const before = sink.received.length;
    const res = await replays({ filter: { status: 'delivered', since }, rate_per_s: 2 });
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    await waitUntil(async () => (await replayOf(id)).sent >= 2, 10_000, 'two sent');
    const cancelled = await operatorRequest(world, 'POST', `/api/replays/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.state).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 1_000));
    const sentAtCancel = sink.received.length - before;
    await new Promise((r) => setTimeout(r, 2_000));
    expect(sink.received.length - before).toBe(sentAtCancel);
    expect(sentAtCancel).toBeLessThan(EMAILS);
    const after = await replayOf(id);
    expect(after.state).toBe('cancelled');
    expect(after.finished_at).not.toBeNull();
  });

  it('payload current: after a rule change the email is planned again and goes to the new target', async () => {
    ruleSink = await startWebhookSink();
    const rule = {
      id: 'panne',
      name: 'Pannes',
      conditions: [{ field: 'subject', operator: 'contains', value: 'panne', case_sensitive: false }],
      actions: { webhook_url: `${ruleSink.url}/new`, priority: 'normal', stop_processing: true },
    };
    expect((await operatorRequest(world, 'POST', '/api/routing_rules', { rules: [rule] })).status).toBe(200);
    const before = sink.received.length;
    const res = await replays({
      filter: { status: 'delivered', target: `${sink.url}/hook`, query: 'charlie' },
      payload: 'current',
      rate_per_s: 50,
    });
    expect(res.status).toBe(202);
    expect(res.json.total).toBe(1);
    const id = res.json.id as string;
    await waitUntil(async () => (await replayOf(id)).state === 'done', 15_000, 'replay done');
    expect(await replayOf(id)).toMatchObject({ sent: 1, delivered: 1 });
    const [hook] = await ruleSink.waitFor(1);
    expect(hook!.path).toMatch(/\/new$/);
    expect(hook!.json).toMatchObject({ subject: 'Panne charlie', routing_rule: { id: 'panne', name: 'Pannes' } });
    // A new target gets its own webhook-id; the old one receives nothing.
    expect(sink.received.map((r) => r.headers['webhook-id'])).not.toContain(hook!.headers['webhook-id']);
    expect(sink.received.length).toBe(before);
    // The rule is a filter too (by name or id): that delivery went to the rule's target.
    expect((await dryRun({ status: 'delivered', rule: 'Pannes' })).json.count).toBe(1);
  });

  it('a run that cannot read its record ends the replay as failed, saying why', async () => {
    const id = 'rp_broken1';
    const key = `${world.prefix}:replay:${id}`;
    await world.apiRedis.hset(key, { id, state: 'running', total: '1' }); // not a valid record
    await world.api.replays.producer.add('run', { replay_id: id }, { jobId: `replay.${id}` });
    await waitUntil(async () => (await world.apiRedis.hget(key, 'state')) === 'failed', 10_000, 'replay failed');
    expect(await world.apiRedis.hget(key, 'error')).toMatch(/not valid/);
  });
});
