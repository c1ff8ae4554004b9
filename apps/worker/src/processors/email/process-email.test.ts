import { describe, expect, it } from '@jest/globals';
import { WaitingChildrenError } from 'bullmq';
import type { SettingsStore } from '@render-signal/config-store';
import {
  DEFAULT_PROCESSING_PREFS,
  DEFAULT_RUNTIME_FLAGS,
  DEFAULT_WEBHOOK_CONFIG,
  emailJobResultSchema,
  type ProcessEmailJob,
} from '@render-signal/contracts';
import { createPayloadRenderer, PermanentDeliveryError, RetryableDeliveryError, webhookIdFor } from '@render-signal/delivery';
import { DEFAULT_PROVIDERS } from '@render-signal/detectors';
import type { JourneyEvent, JourneyRecorder } from '@render-signal/journeys';
import type { deliveryQueue, offloadQueue, Producer } from '@render-signal/queue';
import type { FastAdmission } from '../../pipeline/target-gate';
import {
  ANSWERED,
  attemptDeps,
  counterValue,
  fakeJob,
  memoryProducer,
  memoryWebhookLog,
  recordingLogger,
  scriptedDeliverer,
} from '../../testing/fakes';
import { processEmail, type ProcessEmailDeps } from './process-email';

const TARGET = 'https://hooks.render-signal.test/default';
const LINK = 'https://www.dropbox.com/scl/fo/abc/file.zip?dl=0';
const meta = { _updated_at: null, _revision: 0 };
const NOW = Date.parse('2026-03-10T10:00:00Z');

const settingsStore = {
  snapshot: async () => ({
    webhook_config: { ...DEFAULT_WEBHOOK_CONFIG, ...meta },
    processing_prefs: { ...DEFAULT_PROCESSING_PREFS, ...meta },
    runtime_flags: { ...DEFAULT_RUNTIME_FLAGS, ...meta },
    routing_rules: { rules: [], ...meta },
  }),
} as unknown as SettingsStore;

const emailData = (body = `<p>${LINK}</p>`): ProcessEmailJob => ({
  email_id: 'email-1',
  accepted_at: NOW - 50,
  email: { subject: 'Hello', sender: 'Alice <alice@example.org>', date: '2026-03-10', body },
  step: 'plan',
});

/** The worker's deps with fakes: the deliverer answers from `script`, the gate admits (or refuses) as told. */
function world(
  options: {
    script?: Array<typeof ANSWERED | Error>;
    admission?: FastAdmission;
    offload?: boolean;
    fastPath?: boolean;
    journeys?: boolean;
  } = {},
) {
  const journey: JourneyEvent[] = [];
  const journeys: JourneyRecorder = {
    record: (_emailId, event) => void journey.push(event),
    append: async (_emailId, event) => void journey.push(event),
    flush: async () => {},
  };
  const deliverer = scriptedDeliverer(options.script ?? [ANSWERED]);
  const attempt = attemptDeps(deliverer);
  const deliveries = memoryProducer();
  const offloads = memoryProducer();
  const gate = {
    released: [] as Array<{ url: string; durationMs: number | undefined; fast: boolean | undefined }>,
    async admitFast() {
      return options.admission ?? { admitted: true as const };
    },
    release(url: string, durationMs?: number, fast?: boolean) {
      gate.released.push({ url, durationMs, fast });
    },
  };
  const logger = recordingLogger();
  const deps: ProcessEmailDeps = {
    logger,
    settings: settingsStore,
    webhookLog: memoryWebhookLog(),
    deliveryProducer: deliveries as unknown as Producer<typeof deliveryQueue>,
    planContext: () => ({
      providers: DEFAULT_PROVIDERS,
      timeZone: 'Europe/Paris',
      defaultTarget: TARGET,
      timeWindow: {},
      defaultTimeoutMs: 30_000,
      fieldScanLimit: 256 * 1024,
    }),
    providers: DEFAULT_PROVIDERS,
    retryFor: () => ({ attempts: 5 }),
    now: () => NOW,
    ...(options.fastPath === false ? {} : { fastPath: { gate, attempt } }),
    ...(options.journeys ? { journeys } : {}),
    ...(options.offload ? { offload: { producer: offloads as unknown as Producer<typeof offloadQueue>, deadlineMs: 60_000 } } : {}),
  };
  return { deps, deliverer, deliveries, offloads, gate, metrics: attempt.metrics, logger, journey };
}

const webhookId = webhookIdFor('email-1', TARGET);

describe('processEmail (fakes: no Redis, no HTTP)', () => {
  it('fast path, success: one POST from the email job, no delivery job, what was sent kept in the journey', async () => {
    const w = world({ journeys: true });
    const result = await processEmail(fakeJob(emailData()), 'token', w.deps);
    expect(result).toEqual({ deliveries: 1, fast_path: 'delivered' });
    // The saved shape is the contract the API parses back.
    expect(emailJobResultSchema.parse(result)).toEqual(result);
    expect(w.deliverer.requests).toHaveLength(1);
    expect(w.journey.map((e) => e.type)).toEqual(['received', 'planned', 'dispatched', 'attempt', 'sent']);
    const sent = w.journey.find((e) => e.type === 'sent') as { webhook_id: string; target: { url: string }; payload: unknown };
    expect(sent).toMatchObject({ webhook_id: webhookId, target: { url: TARGET } });
    expect(JSON.stringify(sent.payload)).toBe(w.deliverer.requests[0]!.body);
    expect(w.deliveries.added).toEqual([]);
    expect(w.gate.released).toEqual([{ url: TARGET, durationMs: ANSWERED.duration_ms, fast: true }]);
    expect(await counterValue(w.metrics.deliveryAttempts, { outcome: 'delivered', path: 'fast' })).toBe(1);
    expect(w.logger.lines.filter((l) => l.level === 'info').map((l) => l.event)).toEqual(['delivery.succeeded']);
  });

  it('fast path, success without journeys: the result keeps what was sent', async () => {
    const w = world();
    const result = await processEmail(fakeJob(emailData()), 'token', w.deps);
    expect(result).toMatchObject({ deliveries: 1, fast_path: 'delivered', delivery: { webhook_id: webhookId, kind: 'email' } });
    expect(emailJobResultSchema.parse(result)).toEqual(result);
    expect(JSON.stringify(result.delivery!.payload)).toBe(w.deliverer.requests[0]!.body);
  });

  it.each([
    ['retryable', new RetryableDeliveryError({ failure_reason: 'upstream_server_error', status: 503, duration_ms: 7 }), false],
    ['permanent', new PermanentDeliveryError({ failure_reason: 'upstream_client_error', status: 404, duration_ms: 7 }), true],
  ])('fast path, %s failure: handed over to a delivery job carrying the attempt', async (_name, error, permanent) => {
    const w = world({ script: [error] });
    const result = await processEmail(fakeJob(emailData()), 'token', w.deps);
    expect(result).toEqual({ deliveries: 1, fast_path: 'handed_over' });
    expect(w.deliveries.added).toHaveLength(1);
    expect(w.deliveries.added[0]).toMatchObject({
      name: 'deliver',
      data: { webhook_id: webhookId, first_attempt: { permanent, facts: error.facts } },
      opts: { jobId: webhookId, attempts: 5 },
    });
    expect(w.gate.released).toEqual([{ url: TARGET, durationMs: 7, fast: true }]);
    expect(await counterValue(w.metrics.deliveryAttempts, { path: 'fast' })).toBe(1);
  });

  it.each([
    ['renders', '{ "s": subject, "cle": idempotency_key }', true],
    ['fails', '"texte"', false],
  ])(
    'fast path, a template that %s: its body sent, or template_error handed over at once, never another body',
    async (_n, template, ok) => {
      const w = world();
      const payload = { format: 'template' as const, template };
      const snapshot = await settingsStore.snapshot(['webhook_config', 'processing_prefs', 'runtime_flags', 'routing_rules']);
      w.deps.settings = {
        snapshot: async () => ({ ...snapshot, webhook_config: { ...snapshot.webhook_config, payload } }),
      } as unknown as SettingsStore;
      w.deps.fastPath!.attempt.renderer = createPayloadRenderer({ timeoutMs: 50, maxBodyBytes: 1_000_000 });
      const result = await processEmail(fakeJob(emailData()), 'token', w.deps);
      if (ok) {
        expect(w.deliverer.requests.map((r) => r.body)).toEqual([`{"s":"Hello","cle":"${webhookId}"}`]);
        expect(result).toMatchObject({ fast_path: 'delivered', delivery: { payload_format: payload } });
        return;
      }
      expect(w.deliverer.requests).toEqual([]);
      expect(result).toEqual({ deliveries: 1, fast_path: 'handed_over' });
      expect(w.deliveries.added[0]!.data).toMatchObject({
        payload_format: payload,
        first_attempt: { permanent: true, facts: { failure_reason: 'template_error' } },
      });
    },
  );

  it('enqueue failing after a failed attempt: the job fails (BullMQ retries it) and the slot is given back', async () => {
    const w = world({ script: [new RetryableDeliveryError({ failure_reason: 'timeout', duration_ms: 30_000 })] });
    w.deliveries.failNext = new Error('Connection is closed.');
    await expect(processEmail(fakeJob(emailData()), 'token', w.deps)).rejects.toThrow('Connection is closed.');
    expect(w.gate.released).toEqual([{ url: TARGET, durationMs: 30_000, fast: true }]);
  });

  it('a re-run skips the fast path: only the idempotent enqueue, counted as a fallback (rerun)', async () => {
    const w = world();
    const result = await processEmail(fakeJob(emailData(), { attemptsStarted: 2 }), 'token', w.deps);
    expect(result).toEqual({ deliveries: 1 });
    expect(w.deliverer.requests).toEqual([]);
    expect(w.deliveries.added).toHaveLength(1);
    expect(w.deliveries.added[0]!.data).not.toHaveProperty('first_attempt');
    expect(w.deliveries.added[0]!.opts).toEqual({ jobId: webhookId, attempts: 5, priority: 5 });
    expect(await counterValue(w.metrics.fastPathFallback, { reason: 'rerun' })).toBe(1);
  });

  it('the gate refusing: a delivery job, with the refusal as the fallback reason', async () => {
    const w = world({ admission: { admitted: false, reason: 'target_busy' } });
    expect(await processEmail(fakeJob(emailData()), 'token', w.deps)).toEqual({ deliveries: 1 });
    expect(w.deliverer.requests).toEqual([]);
    expect(w.gate.released).toEqual([]);
    expect(await counterValue(w.metrics.fastPathFallback, { reason: 'target_busy' })).toBe(1);
    expect(w.logger.lines.find((l) => l.event === 'email.routed')?.fields).toMatchObject({ fast_path_fallback: 'target_busy' });
  });

  it('links to offload: children first, the job waits for them; the fast path is not taken (offload)', async () => {
    const w = world({ offload: true });
    const job = fakeJob(emailData(), { waitForChildren: true });
    await expect(processEmail(job, 'token', w.deps)).rejects.toBeInstanceOf(WaitingChildrenError);
    expect(w.offloads.added).toHaveLength(1);
    expect(w.offloads.added[0]).toMatchObject({ name: 'transfer', data: { index: 0, link: { provider: 'dropbox' } } });
    expect(job.calls.updateData).toHaveLength(1);
    expect(job.calls.updateData[0]).toMatchObject({ step: 'offload' });
    expect(await counterValue(w.metrics.fastPathFallback, { reason: 'offload' })).toBe(1);
    // Resumed when the children finished: delivery jobs from the saved route.
    const resumed = await processEmail(job, 'token', w.deps);
    expect(resumed).toEqual({ deliveries: 1 });
    expect(w.deliveries.added).toHaveLength(1);
    expect(w.deliverer.requests).toEqual([]);
  });

  it('fast path off: delivery jobs', async () => {
    const w = world({ fastPath: false });
    expect(await processEmail(fakeJob(emailData()), 'token', w.deps)).toEqual({ deliveries: 1 });
    expect(w.deliveries.added).toHaveLength(1);
  });

  it('a skipped email: nothing delivered, its webhook log entry written, the dedup key kept (marked processed)', async () => {
    const w = world();
    const job = fakeJob(emailData('<p>rien</p>'));
    expect(await processEmail(job, 'token', w.deps)).toEqual({ deliveries: 0, skipped: 'no_delivery_links' });
    expect(w.deliveries.added).toEqual([]);
    expect(w.deliverer.requests).toEqual([]);
    expect((w.deps.webhookLog as ReturnType<typeof memoryWebhookLog>).entries).toMatchObject([{ status: 'skipped', final: true }]);
    expect(job.calls.removeDeduplicationKey).toBe(0);
  });

  it('no target: skipped, and the dedup key released (a later re-send is processed again)', async () => {
    const w = world();
    w.deps.planContext = (s, now) => ({ ...world().deps.planContext(s, now), defaultTarget: null });
    const job = fakeJob(emailData());
    expect(await processEmail(job, 'token', w.deps)).toEqual({ deliveries: 0, skipped: 'no_target' });
    expect(job.calls.removeDeduplicationKey).toBe(1);
  });
});
