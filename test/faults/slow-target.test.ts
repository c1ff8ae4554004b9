import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reconcile, settle, summaryLine } from '../helpers/faults/ledger';
import { faultEmail, sendEmail, type SentEmail } from '../helpers/faults/load';
import { loginOperator } from '../helpers/faults/operator-session';
import { startFaultStack, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

const SLOW_MS = 5_000;
const DELIVERY_CONCURRENCY = 6;
const PER_TARGET = 3;
const SLOW_EMAILS = 6; // enough to fill every slot of the worker if nothing stopped them
const FAST_EMAILS = 30;

/**
 * Fault 4: one target answers in 5 s. DELIVERY_PER_TARGET_CONCURRENCY caps its share of the worker's slots,
 * so deliveries to another target (another host:port) keep flowing instead of queueing behind it.
 * Slow-lane emails go to both targets (a routing rule, without stop_processing), the others only to the fast one.
 */
describe('fault 4: one slow target does not delay the others', () => {
  let fast: WebhookSink;
  let slow: WebhookSink;
  let stack: FaultStack;
  beforeAll(async () => {
    fast = await startWebhookSink();
    slow = await startWebhookSink();
    slow.defaultResponse = { ...slow.defaultResponse, delayMs: SLOW_MS };
    stack = await startFaultStack({ env: { WEBHOOK_URL: fast.url }, workers: [] });
    // The rule is saved before the worker starts, so its first email already sees it.
    const operator = await loginOperator(stack.apiUrl);
    const saved = await operator.request('POST', '/api/routing_rules', {
      rules: [
        {
          name: 'slow lane',
          conditions: [{ field: 'body', operator: 'contains', value: 'slow-lane' }],
          actions: { webhook_url: slow.url, priority: 'normal', stop_processing: false },
        },
      ],
    });
    expect(saved.status).toBe(200);
    await stack.startWorker({ DELIVERY_CONCURRENCY: String(DELIVERY_CONCURRENCY), DELIVERY_PER_TARGET_CONCURRENCY: String(PER_TARGET) });
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await fast?.close();
    await slow?.close();
  });

  it('keeps delivering to the fast target while the slow one holds its capped share of slots', async () => {
    const started = Date.now();
    const sent: SentEmail[] = [];
    // Slow-lane emails first, so without isolation their deliveries would take every slot ahead of the rest.
    for (let i = 0; i < SLOW_EMAILS; i++) {
      sent.push(
        await sendEmail(
          stack.apiUrl,
          faultEmail('slow', i, { body: `<p>slow-lane https://www.dropbox.com/scl/fo/slow${i}/f.zip?dl=0</p>` }),
        ),
      );
    }
    for (let i = 0; i < FAST_EMAILS; i++) sent.push(await sendEmail(stack.apiUrl, faultEmail('fast', i)));
    expect(sent.every((e) => e.status === 200 && e.outcome === 'queued')).toBe(true);
    const all = sent.map((e) => e.emailId!);
    const slowLane = all.slice(0, SLOW_EMAILS);

    const expectations = [
      { target: fast.url, emailIds: all, receipts: fast.received },
      { target: slow.url, emailIds: slowLane, receipts: slow.received },
    ];
    await settle(stack, expectations, 90_000);
    const ledger = await reconcile(stack, expectations);

    // When did the first slow answer free a slot? Every fast delivery must have arrived before that.
    const firstSlowAnswer = Math.min(...slow.requests.map((r) => r.receivedAt)) + SLOW_MS;
    const lastFast = Math.max(...fast.received.map((r) => r.receivedAt));
    const answeredAt = new Map(sent.map((e) => [e.emailId, e.answeredAt]));
    const fastLatencies = fast.received.map((r) => r.receivedAt - (answeredAt.get(String(r.json?.email_id)) ?? r.receivedAt));
    // Requests in flight at the slow target never exceeded the per-target cap (each is answered SLOW_MS after arrival).
    const arrivals = slow.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    const slowInFlightMax = Math.max(...arrivals.map((t) => arrivals.filter((u) => u <= t && u > t - (SLOW_MS - 100)).length));
    console.log(
      summaryLine('4 one target answers in 5 s', ledger, Date.now() - started, {
        accepted: all.length,
        fast_max_latency: `${Math.max(...fastLatencies)}ms`,
        fast_done_before_first_slow_answer: `${firstSlowAnswer - lastFast}ms`,
        slow_in_flight_max: slowInFlightMax,
      }),
    );
    expect(ledger.lost).toEqual([]);
    expect(ledger.failedJobs).toEqual([]);
    expect(ledger.delivered).toBe(SLOW_EMAILS * 2 + FAST_EMAILS);
    expect(ledger.duplicates).toBe(0);
    expect(lastFast).toBeLessThan(firstSlowAnswer);
    expect(slowInFlightMax).toBeLessThanOrEqual(PER_TARGET);
  }, 120_000);
});
