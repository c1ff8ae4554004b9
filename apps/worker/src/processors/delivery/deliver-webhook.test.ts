import { describe, expect, it } from '@jest/globals';
import { DelayedError } from 'bullmq';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import { createPayloadRenderer, PermanentDeliveryError, RetryableDeliveryError } from '@render-signal/delivery';
import type { Admission } from '../../pipeline/target-gate';
import { ANSWERED, attemptDeps, fakeJob, recordingLogger, scriptedDeliverer, TEST_TARGET } from '../../testing/fakes';
import { deliverWebhookJob, type DeliverWebhookDeps } from './deliver-webhook';

const data: DeliverWebhookJob = {
  email_id: 'email-1',
  accepted_at: 999_000,
  webhook_id: 'msg_1',
  target: TEST_TARGET,
  payload: { b: 2, a: 1 },
  subject: 'Hello',
  kind: 'email',
};

function world(script: Array<typeof ANSWERED | Error>, admission: Admission = { admitted: true }) {
  const deliverer = scriptedDeliverer(script);
  const deadLetters: unknown[] = [];
  const gate = {
    released: [] as Array<number | undefined>,
    async admit() {
      return admission;
    },
    release(_url: string, durationMs?: number) {
      gate.released.push(durationMs);
    },
  };
  const deps: DeliverWebhookDeps = {
    ...attemptDeps(deliverer),
    logger: recordingLogger(),
    gate,
    onDeadLetter: async (_job, facts) => {
      deadLetters.push(facts);
    },
  };
  return { deps, deliverer, gate, deadLetters };
}

describe('deliverWebhookJob (fakes)', () => {
  it('success: the payload sent as serialised (key order kept), the slot given back with the answer time', async () => {
    const w = world([ANSWERED]);
    const job = fakeJob(data);
    expect(await deliverWebhookJob(job, 'token', w.deps)).toEqual(ANSWERED);
    expect(w.deliverer.requests).toEqual([{ webhookId: 'msg_1', body: '{"b":2,"a":1}' }]);
    expect(w.gate.released).toEqual([ANSWERED.duration_ms]);
    expect(job.calls.log).toEqual([]); // a first-attempt success is described by the return value
  });

  it('retryable failure: thrown for BullMQ to retry, in the job log, not dead-lettered', async () => {
    const error = new RetryableDeliveryError({ failure_reason: 'upstream_server_error', status: 503, duration_ms: 9 });
    const w = world([error]);
    const job = fakeJob(data, { attempts: 3 });
    await expect(deliverWebhookJob(job, 'token', w.deps)).rejects.toBe(error);
    expect(JSON.parse(job.calls.log[0]!)).toMatchObject({ attempt: 1, outcome: 'retrying', status: 503 });
    expect(w.deadLetters).toEqual([]);
    expect(w.gate.released).toEqual([9]);
  });

  it('permanent failure: dead-lettered at once (the failure notification hook called)', async () => {
    const error = new PermanentDeliveryError({ failure_reason: 'upstream_client_error', status: 404, duration_ms: 9 });
    const w = world([error]);
    const job = fakeJob(data, { attempts: 3 });
    await expect(deliverWebhookJob(job, 'token', w.deps)).rejects.toBe(error);
    expect(JSON.parse(job.calls.log[0]!)).toMatchObject({ outcome: 'failed' });
    expect(w.deadLetters).toEqual([error.facts]);
  });

  it('a template target: the rendered body is what is sent and logged with its size', async () => {
    const w = world([ANSWERED]);
    w.deps.renderer = createPayloadRenderer({ timeoutMs: 50, maxBodyBytes: 1_000_000 });
    const templated = { ...data, payload_format: { format: 'template' as const, template: '{ "x": a, "cle": idempotency_key }' } };
    expect(await deliverWebhookJob(fakeJob(templated), 'token', w.deps)).toEqual(ANSWERED);
    expect(w.deliverer.requests).toEqual([{ webhookId: 'msg_1', body: '{"x":1,"cle":"msg_1"}' }]);
  });

  it('a template that fails: template_error, never sent, dead-lettered at once with its message', async () => {
    const w = world([ANSWERED]);
    w.deps.renderer = createPayloadRenderer({ timeoutMs: 50, maxBodyBytes: 1_000_000 });
    const broken = { ...data, payload_format: { format: 'template' as const, template: '[1, 2]' } };
    await expect(deliverWebhookJob(fakeJob(broken, { attempts: 5 }), 'token', w.deps)).rejects.toBeInstanceOf(PermanentDeliveryError);
    expect(w.deliverer.requests).toEqual([]);
    expect(w.deadLetters).toEqual([
      expect.objectContaining({ failure_reason: 'template_error', response_excerpt: expect.stringContaining('objet JSON') }),
    ]);
  });

  it('a busy target: delayed without spending an attempt (DelayedError), nothing sent', async () => {
    const w = world([], { admitted: false, reason: 'target_busy', waitMs: 40 });
    const job = fakeJob(data);
    await expect(deliverWebhookJob(job, 'token', w.deps)).rejects.toBeInstanceOf(DelayedError);
    expect(job.calls.moveToDelayed).toEqual([1_000_040]);
    expect(w.deliverer.requests).toEqual([]);
  });

  it("the fast path's failed first attempt: recorded and thrown without sending again; the field dropped", async () => {
    const facts = { failure_reason: 'timeout' as const, duration_ms: 30_000 };
    const w = world([]);
    const job = fakeJob({ ...data, first_attempt: { permanent: false, facts } }, { attempts: 3 });
    await expect(deliverWebhookJob(job, 'token', w.deps)).rejects.toBeInstanceOf(RetryableDeliveryError);
    expect(w.deliverer.requests).toEqual([]);
    expect(JSON.parse(job.calls.log[0]!)).toMatchObject({ attempt: 1, outcome: 'retrying', path: 'fast' });
    expect(job.calls.updateData).toEqual([data]);
    expect(w.deadLetters).toEqual([]);
  });
});
