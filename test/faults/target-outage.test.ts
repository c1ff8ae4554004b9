import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reconcile, settle, summaryLine, type TargetExpectation } from '../helpers/faults/ledger';
import { runLoad } from '../helpers/faults/load';
import { sleep, startFaultStack, waitFor, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/** 10 retries, 14.75 s in total (jitter 0): longer than the outage below, so nothing may be dead-lettered. */
const RETRY_SCHEDULE = '250ms,500ms,1s,1s,2s,2s,2s,2s,2s,2s';
const RETRY_TOTAL_MS = 14_750;
const CLOSED_MS = 2_000;
const UNAVAILABLE_MS = 2_000;

/**
 * Fault 3: the webhook target is unreachable (connection refused), then answers 503 with Retry-After, then
 * recovers. Deliveries retry on the (shortened) schedule; all arrive after it returns, none is dead-lettered.
 */
describe('fault 3: webhook target down, then back', () => {
  let first: WebhookSink;
  let second: WebhookSink | undefined;
  let stack: FaultStack;
  beforeAll(async () => {
    first = await startWebhookSink();
    stack = await startFaultStack({ env: { WEBHOOK_URL: first.url, DELIVERY_RETRY_SCHEDULE: RETRY_SCHEDULE } });
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await second?.close();
  });

  it('delivers everything after the target returns, within the retry schedule', async () => {
    const started = Date.now();
    const load = runLoad({ apiUrl: stack.apiUrl, ratePerSecond: 20, durationMs: 8_000, label: 'outage' });
    await waitFor(() => first.received.length >= 20, 30_000, 'deliveries flowing before the outage');

    // Down: the port refuses connections.
    await first.close();
    await sleep(CLOSED_MS);
    // Up but failing: 503 with Retry-After (honoured, bounded by DELIVERY_MAX_RETRY_AFTER).
    second = await startWebhookSink({ port: first.port });
    second.defaultResponse = { status: 503, body: 'maintenance', headers: { 'content-type': 'text/plain', 'retry-after': '1' } };
    await sleep(UNAVAILABLE_MS);
    const failedAttempts = second.requests.length;
    second.defaultResponse = { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } };
    const recoveredAt = Date.now();

    const report = await load;
    expect(report.rejected).toEqual([]);
    const sinks = [first, second];
    const expectation: TargetExpectation = {
      target: first.url,
      emailIds: report.accepted,
      get receipts() {
        return sinks.flatMap((s) => s.received);
      },
    };
    await settle(stack, [expectation], RETRY_TOTAL_MS + 60_000);
    const ledger = await reconcile(stack, [expectation]);
    // The backlog: emails accepted before the target recovered. When did the last of them arrive?
    const backlog = new Set(report.emails.filter((e) => e.answeredAt < recoveredAt).map((e) => e.emailId));
    const lastDelivery = Math.max(...expectation.receipts.filter((r) => backlog.has(String(r.json?.email_id))).map((r) => r.receivedAt));
    const retried = stack.workers[0]!.logs.filter((l) => l.event === 'delivery.failed');
    console.log(
      summaryLine('3 target refused connections, then 503, then back', ledger, Date.now() - started, {
        accepted: report.accepted.length,
        failed_attempts: retried.length,
        answered_503: failedAttempts,
        outage: `${(CLOSED_MS + UNAVAILABLE_MS) / 1000}s`,
        backlog: backlog.size,
        backlog_cleared_after_recovery: `${((lastDelivery - recoveredAt) / 1000).toFixed(1)}s`,
      }),
    );
    // The outage was felt: both failure kinds were retried.
    expect(retried.some((l) => l.failure_reason === 'network_error')).toBe(true);
    expect(retried.some((l) => l.failure_reason === 'upstream_server_error' && l.status === 503)).toBe(true);
    expect(ledger.lost).toEqual([]);
    expect(ledger.failedJobs).toEqual([]); // nothing exhausted its schedule
    expect(ledger.delivered).toBe(report.accepted.length);
    expect(lastDelivery - recoveredAt).toBeLessThan(RETRY_TOTAL_MS);
    // Refused connections and 503s are not deliveries: the target saw each webhook-id succeed once.
    expect(ledger.duplicates).toBe(0);
  }, 150_000);
});
