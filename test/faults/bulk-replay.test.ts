import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AppProcess } from '../helpers/processes';
import { loginOperator, type OperatorSession } from '../helpers/faults/operator-session';
import { sleep, startFaultStack, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { sampleEmail, TEST_TOKEN } from '../helpers/world';

/**
 * Bulk replay with real API and worker processes (issue 26, "Done means"): 1 000 deliveries dead-lettered
 * against a loopback target answering 500 (one retry, 100 ms), the target fixed; the dry run counts exactly
 * 1 000 for that target since the start (0 for another); a replay at 50/s delivers each once with its original
 * webhook-id and takes at least 18 s; a second replay (another target's dead letters) started while the first
 * runs and cancelled after 5 s stops within a second; a worker SIGKILLed while it runs a replay: the replay
 * resumes on the other worker, queues each delivery once, and leaves none out.
 */

const EMAILS = 1_000;
const OTHER = 100;

interface Replay {
  state: string;
  total: number;
  sent: number;
  delivered: number;
  failed: number;
  remaining: number;
  started_at: string | null;
  finished_at: string | null;
}

describe('bulk replay with real processes', () => {
  let sink: WebhookSink;
  let other: WebhookSink;
  let stack: FaultStack;
  let operator: OperatorSession;
  const since = new Date().toISOString();

  const post = async (subjects: string[]) => {
    const queue = [...subjects];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let subject = queue.shift(); subject !== undefined; subject = queue.shift()) {
          const res = await fetch(`${stack.apiUrl}/api/ingress/gmail`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify(sampleEmail({ subject })),
          });
          expect(res.status).toBe(200);
        }
      }),
    );
  };
  const replays = (body: unknown) => operator.request('POST', '/api/replays', body);
  const replayOf = async (id: string) => (await operator.request('GET', `/api/replays/${id}`)).json as unknown as Replay;
  const waitFor = async (check: () => Promise<boolean>, timeoutMs: number, label: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
      await sleep(200);
    }
  };
  const countBy = (ids: Array<string | string[] | undefined>) => {
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(String(id), (counts.get(String(id)) ?? 0) + 1);
    return counts;
  };

  beforeAll(async () => {
    sink = await startWebhookSink();
    other = await startWebhookSink();
    sink.defaultResponse = { status: 500, body: 'down' };
    other.defaultResponse = { status: 500, body: 'down' };
    stack = await startFaultStack({
      env: { WEBHOOK_URL: sink.url, DELIVERY_RETRY_SCHEDULE: '100ms', JOURNEY_MAX_ENTRIES: '5000' },
      workers: [{}, {}],
    });
    operator = await loginOperator(stack.apiUrl);
    // The other target's emails go there through a rule.
    const rule = {
      id: 'autre',
      name: 'Autre cible',
      conditions: [{ field: 'subject', operator: 'contains', value: 'autre-cible', case_sensitive: false }],
      actions: { webhook_url: other.url, priority: 'normal', stop_processing: true },
    };
    expect((await operator.request('POST', '/api/routing_rules', { rules: [rule] })).status).toBe(200);
    await post([...Array.from({ length: EMAILS }, (_, i) => `Panne ${i}`), ...Array.from({ length: OTHER }, (_, i) => `autre-cible ${i}`)]);
    await waitFor(async () => (await stack.queues.delivery.getFailedCount()) === EMAILS + OTHER, 120_000, 'every delivery dead-lettered');
  }, 240_000);

  afterAll(async () => {
    await stack?.close();
    await sink?.close();
    await other?.close();
  });

  it('dry run, a paced replay with the original webhook-ids, a concurrent replay cancelled, a worker killed mid-replay', async () => {
    const filter = { status: 'dead_lettered', target: sink.url, since };
    // The journeys are written when the jobs end: the count reaches 1 000 and stays.
    await waitFor(async () => (await replays({ filter, dry_run: true })).json.count === EMAILS, 30_000, 'journeys written');
    const dry = await replays({ filter, dry_run: true });
    expect(dry.json).toMatchObject({ count: EMAILS, per_target: [{ count: EMAILS }] });
    expect((await replays({ filter: { ...filter, target: 'https://elsewhere.example.org/hook' }, dry_run: true })).json.count).toBe(0);
    expect((await replays({ filter: { status: 'dead_lettered', target: other.url, since }, dry_run: true })).json.count).toBe(OTHER);

    const originalIds = new Set(sink.requests.map((r) => String(r.headers['webhook-id'])));
    expect(originalIds.size).toBe(EMAILS);
    sink.defaultResponse = { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } };
    other.defaultResponse = sink.defaultResponse;
    sink.received.length = 0;

    // Replay A: 1 000 at 50/s.
    const startedA = Date.now();
    const a = await replays({ filter, rate_per_s: 50 });
    expect(a.status).toBe(202);
    expect(a.json.total).toBe(EMAILS);
    const idA = a.json.id as string;

    // Replay B (the other target's 100 at 10/s) while A runs, cancelled after 5 s.
    await sleep(2_000);
    const b = await replays({ filter: { status: 'dead_lettered', target: other.url, since }, rate_per_s: 10 });
    expect(b.status).toBe(202);
    const idB = b.json.id as string;
    await sleep(5_000);
    const cancelled = await operator.request('POST', `/api/replays/${idB}/cancel`);
    expect(cancelled.json.state).toBe('cancelled');
    await sleep(1_000);
    const otherAfterCancel = other.received.length;
    expect(otherAfterCancel).toBeGreaterThan(0);
    expect(otherAfterCancel).toBeLessThanOrEqual(70); // ~50 at 10/s in 5 s, plus the second it had to stop
    await sleep(3_000);
    expect(other.received.length).toBe(otherAfterCancel);
    expect((await replayOf(idB)).state).toBe('cancelled');

    await waitFor(async () => (await replayOf(idA)).state === 'done', 60_000, 'replay A done');
    const tookA = Date.now() - startedA;
    expect(tookA).toBeGreaterThanOrEqual(18_000);
    expect(await replayOf(idA)).toMatchObject({ total: EMAILS, sent: EMAILS, delivered: EMAILS, failed: 0, remaining: 0 });
    const countsA = countBy(sink.received.map((r) => r.headers['webhook-id']));
    expect(new Set(countsA.keys())).toEqual(originalIds);
    expect([...countsA.values()].every((n) => n === 1)).toBe(true);
    console.log(`bulk replay: 1 000 at 50/s took ${tookA} ms; the cancelled one sent ${otherAfterCancel}`);

    // Replay C (the same 1 000, now delivered) at 100/s; the worker running it is SIGKILLed after 3 s.
    sink.received.length = 0;
    // The delivered attempts reach the journeys within milliseconds of the jobs' ends.
    const delivered = { ...filter, status: 'delivered' };
    await waitFor(
      async () => (await replays({ filter: delivered, dry_run: true })).json.count === EMAILS,
      10_000,
      'journeys say delivered',
    );
    const c = await replays({ filter: delivered, rate_per_s: 100 });
    expect(c.json.total).toBe(EMAILS);
    const idC = c.json.id as string;
    await waitFor(
      async () => stack.workers.some((w) => w.logs.some((l) => l.event === 'replay.running' && l.replay_id === idC)),
      10_000,
      'C running',
    );
    const victim: AppProcess = stack.workers.find((w) => w.logs.some((l) => l.event === 'replay.running' && l.replay_id === idC))!;
    await sleep(3_000);
    const before = (await replayOf(idC)).sent;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(EMAILS);
    expect((await victim.kill('SIGKILL')).signal).toBe('SIGKILL');
    const survivor = stack.workers.find((w) => w !== victim && w.child.exitCode === null)!;
    await survivor.waitForEvent('replay.resumed', 30_000);
    await waitFor(async () => (await replayOf(idC)).state === 'done', 90_000, 'replay C done');
    const doneC = await replayOf(idC);
    // Each delivery queued once by the replay (the set of its job ids), none left out.
    expect(doneC).toMatchObject({ total: EMAILS, sent: EMAILS, delivered: EMAILS, failed: 0, remaining: 0 });
    const countsC = countBy(sink.received.map((r) => r.headers['webhook-id']));
    expect(new Set(countsC.keys())).toEqual(originalIds);
    const duplicates = [...countsC.values()].reduce((sum, n) => sum + n - 1, 0);
    console.log(`bulk replay: worker killed at ${before}/${EMAILS} sent; duplicates at the target: ${duplicates}`);
    // A delivery in flight on the killed worker (answered, not yet acknowledged) is sent again by its stalled job
    // with the same webhook-id (at-least-once, like any delivery): never more than that worker's delivery slots.
    expect(duplicates).toBeLessThanOrEqual(Number(stack.env.DELIVERY_CONCURRENCY ?? 50));
  }, 300_000);
});
