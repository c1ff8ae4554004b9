import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reconcile, settle, summaryLine } from '../helpers/faults/ledger';
import { runLoad } from '../helpers/faults/load';
import { sleep, startFaultStack, waitFor, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/**
 * Fault 5: a worker gets SIGTERM (a deploy, a scale-down) while emails flow. It stops taking jobs, finishes
 * the ones in flight, exits 0; the other worker delivers the rest. A graceful stop redelivers nothing.
 */
describe('fault 5: worker SIGTERM under load', () => {
  let sink: WebhookSink;
  let stack: FaultStack;
  beforeAll(async () => {
    sink = await startWebhookSink();
    // 300 ms per webhook: each worker always has deliveries in flight when the signal lands.
    sink.defaultResponse = { ...sink.defaultResponse, delayMs: 300 };
    stack = await startFaultStack({ env: { WEBHOOK_URL: sink.url }, workers: [{}, {}] });
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await sink?.close();
  });

  it('finishes in-flight jobs, exits 0, and every accepted email is delivered once', async () => {
    const started = Date.now();
    const [stopping] = stack.workers;
    const load = runLoad({ apiUrl: stack.apiUrl, ratePerSecond: 50, durationMs: 8_000, label: 'sigterm' });
    await waitFor(() => stopping!.logs.filter((l) => l.event === 'delivery.succeeded').length >= 20, 30_000, 'the first worker delivering');
    await sleep(1_000);
    const exit = await stopping!.kill('SIGTERM');
    const report = await load;

    expect(exit).toEqual({ code: 0, signal: null });
    const events = stopping!.logs.map((l) => l.event);
    const stopAt = events.indexOf('worker.stopping');
    const stoppedAt = events.indexOf('worker.stopped');
    expect(stopAt).toBeGreaterThan(-1);
    expect(stoppedAt).toBeGreaterThan(stopAt);
    // Deliveries that were in flight when the signal came completed before the process exited.
    const finishedAfterSignal = events.slice(stopAt, stoppedAt).filter((e) => e === 'delivery.succeeded').length;
    expect(finishedAfterSignal).toBeGreaterThan(0);
    expect(events).not.toContain('worker.shutdown_timeout');

    expect(report.rejected).toEqual([]);
    const expectations = [{ target: sink.url, emailIds: report.accepted, receipts: sink.received }];
    await settle(stack, expectations, 60_000);
    const ledger = await reconcile(stack, expectations);
    console.log(
      summaryLine('5 worker SIGTERM under load', ledger, Date.now() - started, {
        accepted: report.accepted.length,
        in_flight_finished_after_sigterm: finishedAfterSignal,
        exit_code: String(exit.code),
      }),
    );
    expect(ledger.lost).toEqual([]);
    expect(ledger.failedJobs).toEqual([]);
    expect(ledger.delivered).toBe(report.accepted.length);
    // Graceful: every job the stopping worker held was completed and acknowledged, so none came back.
    expect(ledger.duplicates).toBe(0);
  }, 120_000);
});
