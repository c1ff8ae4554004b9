import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reconcile, settle, summaryLine, type TargetExpectation } from '../helpers/faults/ledger';
import { runLoad } from '../helpers/faults/load';
import { sleep, startFaultStack, waitFor, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

const OUTAGE_MS = 90_000;
const EMAILS = 300;
const PROBE_MS = 5_000;
const PROBE_MAX_MS = 10_000;
/** After the target answers again, every email is delivered within this (the bound). */
const RECOVERY_BOUND_MS = 30_000;

/**
 * Destination health with real processes (the "Done means"): API + two workers, a loopback target that
 * answers 503 for 90 s and then 200, 300 emails arriving during the outage, the shipped retry schedule
 * (5 s, 5 min, …): the target is failing, then paused after TARGET_PAUSE_AFTER; while paused it gets at most one
 * request (the probe) per probe interval; once it answers every email is delivered within 30 s, once per
 * webhook-id, with the webhook-id of its failed attempts; a worker SIGKILLed while paused loses nothing; exactly
 * one alert per transition.
 */
describe('fault: a target down for 90 s is paused, its emails held and released', () => {
  let target: WebhookSink;
  let alerts: WebhookSink;
  let stack: FaultStack;
  beforeAll(async () => {
    target = await startWebhookSink();
    alerts = await startWebhookSink();
    target.defaultResponse = { status: 503, body: 'Scenario is off', headers: { 'content-type': 'text/plain' } };
    stack = await startFaultStack({
      env: {
        WEBHOOK_URL: target.url,
        ALERT_WEBHOOK_URL: alerts.url,
        TARGET_PAUSE_AFTER: '20s',
        TARGET_PROBE_INTERVAL: `${PROBE_MS / 1000}s`,
        TARGET_PROBE_MAX_INTERVAL: `${PROBE_MAX_MS / 1000}s`,
      },
      // The shipped schedule (5s, 5m, 30m, …): without the release, the outage's emails would wait for its 5-minute step.
      unset: ['DELIVERY_RETRY_SCHEDULE', 'DELIVERY_RETRY_JITTER'],
      workers: [{}, {}],
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await target.close();
    await alerts.close();
  });

  it('one alert per transition, one probe per interval while paused, everything delivered once within 30 s of the return', async () => {
    const started = Date.now();
    const events = () => alerts.received.map((r) => ({ event: String(r.json?.event), at: r.receivedAt }));
    const load = runLoad({
      apiUrl: stack.apiUrl,
      ratePerSecond: EMAILS / ((OUTAGE_MS - 10_000) / 1000),
      durationMs: OUTAGE_MS - 10_000,
      label: 'paused',
    });

    await waitFor(() => events().some((e) => e.event === 'target.paused'), 60_000, 'target.paused alert');
    const pausedAt = events().find((e) => e.event === 'target.paused')!.at;
    // Kill a worker while paused, between two probes (after one was answered): nothing it held may be lost.
    const beforeKill = target.requests.length;
    await waitFor(() => target.requests.length > beforeKill, PROBE_MAX_MS + 5_000, 'a probe while paused');
    await sleep(1_000);
    await stack.workers[0]!.kill('SIGKILL');

    const report = await load;
    expect(report.rejected).toEqual([]);
    const outageLeft = started + OUTAGE_MS - Date.now();
    if (outageLeft > 0) await sleep(outageLeft);
    // Requests while paused (a second of grace for the workers' cached view, at most 1 s old, and requests in flight).
    const pauseWindow = target.requests.filter((r) => r.receivedAt > pausedAt + 2_000);
    const pausedForMs = Date.now() - (pausedAt + 2_000);
    target.defaultResponse = { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } };
    const recoveredAt = Date.now();

    const expectation: TargetExpectation = { target: target.url, emailIds: report.accepted, receipts: target.received };
    await waitFor(
      () => new Set(target.received.map((r) => String(r.json?.email_id))).size >= report.accepted.length,
      RECOVERY_BOUND_MS + 30_000,
      'every email delivered',
    );
    const lastDelivery = Math.max(...target.received.map((r) => r.receivedAt));
    await settle(stack, [expectation], 60_000);
    const ledger = await reconcile(stack, [expectation]);
    await waitFor(() => events().some((e) => e.event === 'target.recovered'), 10_000, 'target.recovered alert');
    await sleep(2_000); // a duplicate alert would have arrived by now

    // Per email: one webhook-id, delivered once, the same as its failed attempts'.
    const idsByEmail = new Map<string, Set<string>>();
    for (const r of target.requests) {
      const set = idsByEmail.get(String(r.json?.email_id)) ?? new Set<string>();
      set.add(String(r.headers['webhook-id']));
      idsByEmail.set(String(r.json?.email_id), set);
    }
    const failedRequests = target.requests.filter((r) => !target.received.includes(r));
    const deliveredIds = new Set(target.received.map((r) => String(r.headers['webhook-id'])));
    console.log(
      summaryLine('target paused during a 90 s outage, then released', ledger, Date.now() - started, {
        accepted: report.accepted.length,
        requests_during_outage: failedRequests.length,
        requests_while_paused: pauseWindow.length,
        paused_for: `${(pausedForMs / 1000).toFixed(0)}s`,
        paused_after: `${((pausedAt - started) / 1000).toFixed(1)}s`,
        all_delivered_after_return: `${((lastDelivery - recoveredAt) / 1000).toFixed(1)}s`,
        alerts: events()
          .map((e) => e.event)
          .join(','),
      }),
    );

    expect(report.accepted.length).toBe(EMAILS);
    expect(events().filter((e) => e.event === 'target.failing')).toHaveLength(1);
    expect(events().filter((e) => e.event === 'target.paused')).toHaveLength(1);
    expect(events().filter((e) => e.event === 'target.recovered')).toHaveLength(1);
    // While paused: at most one request per probe interval (the first interval is the shortest).
    expect(pauseWindow.length).toBeLessThanOrEqual(Math.floor(pausedForMs / PROBE_MS) + 1);
    for (let i = 1; i < pauseWindow.length; i += 1)
      expect(pauseWindow[i]!.receivedAt - pauseWindow[i - 1]!.receivedAt).toBeGreaterThanOrEqual(PROBE_MS - 1_000);
    expect(lastDelivery - recoveredAt).toBeLessThan(RECOVERY_BOUND_MS);
    expect(ledger.lost).toEqual([]);
    expect(ledger.failedJobs).toEqual([]);
    expect(ledger.delivered).toBe(EMAILS);
    expect(ledger.duplicates).toBe(0);
    expect([...idsByEmail.values()].every((ids) => ids.size === 1)).toBe(true);
    for (const r of failedRequests) expect(deliveredIds.has(String(r.headers['webhook-id']))).toBe(true);
    const recovered = alerts.received.find((r) => r.json?.event === 'target.recovered')!;
    expect(Number(recovered.json?.held)).toBeGreaterThan(0);
    expect(String(recovered.json?.text)).toContain('répond de nouveau');
  }, 300_000);
});
