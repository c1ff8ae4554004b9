import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reconcile, settle, summaryLine } from '../helpers/faults/ledger';
import { faultEmail, runLoad } from '../helpers/faults/load';
import { sleep, startFaultStack, waitFor, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { TEST_TOKEN } from '../helpers/world';

const OUTAGE_MS = 3_000;

/**
 * Fault 2: Redis (AOF, appendfsync always) crashes under load and comes back on the same data.
 * While it is down the API answers 503 + Retry-After and the sender retries; nothing that got a 200 is lost
 * (it was fsynced before the 200), and the API and workers reconnect by themselves: no process is restarted.
 */
describe('fault 2: Redis killed and restarted under load', () => {
  let sink: WebhookSink;
  let stack: FaultStack;
  beforeAll(async () => {
    sink = await startWebhookSink();
    stack = await startFaultStack({ env: { WEBHOOK_URL: sink.url }, workers: [{}, {}] });
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await sink?.close();
  });

  it('answers 503 while Redis is down, then every email that got a 200 is delivered', async () => {
    const started = Date.now();
    const load = runLoad({ apiUrl: stack.apiUrl, ratePerSecond: 50, durationMs: 12_000, label: 'redis' });
    // Let the pipeline fill up, then crash Redis: SIGKILL, no shutdown save; only the AOF survives.
    await waitFor(() => sink.received.length >= 50, 30_000, 'deliveries flowing before the crash');
    await stack.redis.stop('SIGKILL');
    const downAt = Date.now();

    // While Redis is down: a fast 503 with Retry-After and the redis_unavailable code, and the API stays up.
    const probe = await fetch(`${stack.apiUrl}/api/ingress/gmail`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(faultEmail('redis-probe', 0)),
    });
    expect(probe.status).toBe(503);
    expect(probe.headers.get('retry-after')).toBe('5');
    expect(((await probe.json()) as { code: string }).code).toBe('redis_unavailable');
    expect((await fetch(`${stack.apiUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${stack.apiUrl}/readyz`)).status).toBe(503);

    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    await stack.redis.restart();
    const report = await load;

    // The sender's view: some attempts were refused with 503, and every email eventually got its 200.
    expect(report.unavailableAnswers).toBeGreaterThan(0);
    expect(report.rejected).toEqual([]);
    const expectations = [{ target: sink.url, emailIds: report.accepted, receipts: sink.received }];
    await settle(stack, expectations, 90_000);
    const ledger = await reconcile(stack, expectations);
    const workersRecovered = stack.workers.filter((w) => w.logs.some((l) => l.event === 'redis.recovered')).length;
    console.log(
      summaryLine('2 Redis SIGKILL + restart (AOF always) under load', ledger, Date.now() - started, {
        accepted: report.accepted.length,
        answers_503: report.unavailableAnswers,
        connection_errors: report.connectionErrors,
        outage: `${OUTAGE_MS / 1000}s`,
        workers_reconnected: workersRecovered,
      }),
    );
    // Nobody restarted the API or the workers: they reconnected on their own.
    for (const proc of [stack.api, ...stack.workers]) expect(proc.child.exitCode).toBeNull();
    expect(workersRecovered).toBe(stack.workers.length);
    expect(ledger.lost).toEqual([]);
    expect(ledger.failedJobs).toEqual([]);
    expect(ledger.delivered).toBe(report.accepted.length);
    // A redelivery is a job whose webhook went out but whose completion could not reach Redis before its lock
    // expired (outage > JOB_LOCK_DURATION): at most the deliveries in flight, 2 workers × DELIVERY_CONCURRENCY 50.
    expect(ledger.duplicates).toBeLessThanOrEqual(2 * 50);
  }, 150_000);
});
