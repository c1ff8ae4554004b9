import { describe, expect, it } from '@jest/globals';
import { PermanentDeliveryError, RetryableDeliveryError } from '@render-signal/delivery';
import { ANSWERED, attemptDeps, counterValue, recordingLogger, scriptedDeliverer, TEST_TARGET } from '../testing/fakes';
import { attemptDelivery, type DeliveryAttempt } from './delivery-attempt';

const attempt = (overrides: Partial<DeliveryAttempt> = {}): DeliveryAttempt => ({
  delivery: {
    email_id: 'email-1',
    accepted_at: 999_000,
    webhook_id: 'msg_1',
    target: TEST_TARGET,
    subject: 'Hello',
    kind: 'email',
  },
  body: Buffer.from('{"a":1}'),
  attempt: 1,
  maxAttempts: 3,
  path: 'job',
  ...overrides,
});

describe('attemptDelivery (fakes)', () => {
  it('success: the webhook log entry, the metrics with their path, the end-to-end time', async () => {
    const deps = attemptDeps(scriptedDeliverer([ANSWERED]));
    const outcome = await attemptDelivery(attempt({ path: 'fast' }), deps, recordingLogger());
    expect(outcome).toEqual({ ok: true, result: ANSWERED, endToEndMs: 1_000 });
    expect(deps.webhookLog.entries).toMatchObject([
      { status: 'success', status_code: 200, attempt: 1, final: true, payload_size_bytes: 7 },
    ]);
    expect(await counterValue(deps.metrics.deliveryAttempts, { outcome: 'delivered', path: 'fast', target_host: 'hooks.example' })).toBe(1);
  });

  it.each([
    ['retryable, attempts left', new RetryableDeliveryError({ failure_reason: 'timeout', duration_ms: 5 }), 1, false, 'retrying'],
    ['retryable, the last attempt', new RetryableDeliveryError({ failure_reason: 'timeout', duration_ms: 5 }), 3, true, 'failed'],
    ['permanent', new PermanentDeliveryError({ failure_reason: 'upstream_client_error', status: 404, duration_ms: 5 }), 1, true, 'failed'],
  ])('%s: a failed outcome, final as it should be, recorded', async (_name, error, n, final, outcome) => {
    const deps = attemptDeps(scriptedDeliverer([error]));
    const logger = recordingLogger();
    const result = await attemptDelivery(attempt({ attempt: n }), deps, logger);
    expect(result).toEqual({ ok: false, error, final });
    expect(deps.webhookLog.entries).toMatchObject([{ status: 'error', failure_reason: error.facts.failure_reason, final }]);
    expect(await counterValue(deps.metrics.deliveryAttempts, { outcome, path: 'job' })).toBe(1);
    // A final failure of a delivery job is announced by the job (delivery.dead_lettered), not here.
    expect(logger.lines.map((l) => l.event)).toEqual(final ? [] : ['delivery.failed']);
  });

  it('an error that is not a delivery failure is thrown, and nothing is recorded', async () => {
    const deps = attemptDeps(scriptedDeliverer([new TypeError('bug')]));
    await expect(attemptDelivery(attempt(), deps, recordingLogger())).rejects.toThrow('bug');
    expect(deps.webhookLog.entries).toEqual([]);
  });
});
