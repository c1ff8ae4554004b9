import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WorkerEnv } from '@render-signal/config';
import {
  createSettingsStore,
  createWebhookSecretStore,
  readSettings,
  resolveDefaultTarget,
  resolveTimeWindow,
  type Settings,
} from '@render-signal/config-store';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import {
  createWebhookDeliverer,
  createWebhookLog,
  nextRetryDelay,
  publishRetryPolicy,
  RetryableDeliveryError,
  webhookIdFor,
  type AttemptFacts,
  type RetryPolicy,
} from '@render-signal/delivery';
import { resolveProviders } from '@render-signal/detectors';
import { createJourneyRecorder } from '@render-signal/journeys';
import { createOffloader } from '@render-signal/offload';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createWorkerMetrics, maskUrl, publishWorkerMetrics, type Logger } from '@render-signal/observability';
import { createConsumer, createProducer, deliveryQueue, emailQueue, offloadQueue } from '@render-signal/queue';
import { jobLockOptions } from './job-lock';
import { offloadSettingsFrom } from './offload-settings';
import { createTargetGate } from './pipeline/target-gate';
import { deliverWebhookJob } from './processors/delivery/deliver-webhook';
import { startGmailConsumer } from './processors/gmail/gmail-consumer';
import { processEmail } from './processors/email/process-email';
import { transferLink } from './processors/offload/transfer-link';

export interface WorkerDeps {
  env: WorkerEnv;
  logger: Logger;
  /** Worker-profile connection (retries forever). */
  redis: Redis;
}

export interface RunningWorkers {
  workers: Worker[];
  /** Stops taking jobs, lets in-flight ones finish (bounded by SHUTDOWN_TIMEOUT), closes everything. */
  close(): Promise<void>;
}

/** Builds every consumer of this process from the parsed env; `main.ts` and tests both use it. */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const { env, logger, redis } = deps;
  const prefix = env.QUEUE_PREFIX;
  const providers = resolveProviders(env.LINK_PROVIDERS);
  const retryPolicy: RetryPolicy = {
    schedule: env.DELIVERY_RETRY_SCHEDULE,
    jitter: env.DELIVERY_RETRY_JITTER,
    maxRetryAfterMs: env.DELIVERY_MAX_RETRY_AFTER,
  };
  const metrics = createWorkerMetrics();
  const stopPublishing = publishWorkerMetrics({
    redis,
    prefix,
    workerId: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    registry: metrics.registry,
  });
  const subscriber = redis.duplicate({ connectionName: 'rs-worker-config' });
  subscriber.on('error', () => {}); // state changes are logged by the main connection
  const settings = createSettingsStore({ redis, subscriber, env, logger });
  await settings.start();
  // What the dashboard shows as the retry schedule in effect.
  await publishRetryPolicy(redis, prefix, retryPolicy).catch((error: Error) =>
    logger.warn('worker.retry_policy_unpublished', { error: error.message }),
  );
  const webhookLog = createWebhookLog({ redis, prefix, maxEntries: env.WEBHOOK_LOG_MAX_ENTRIES, maxAgeDays: env.WEBHOOK_LOG_MAX_AGE_DAYS });
  const journeys = env.JOURNEYS_ENABLED
    ? createJourneyRecorder({
        redis,
        prefix,
        maxAgeDays: env.JOURNEY_MAX_AGE_DAYS,
        maxEntries: env.JOURNEY_MAX_ENTRIES,
        onError: (error, lost) => logger.warn('journey.write_failed', { error: error.message, events: lost }),
      })
    : undefined;
  const deliveryProducer = createProducer(deliveryQueue, { connection: redis, prefix });
  const deliverer = createWebhookDeliverer({
    allowPrivateNetwork: env.ALLOW_PRIVATE_NETWORK,
    timeoutMs: env.DELIVERY_TIMEOUT,
    userAgent: 'render-signal/0.1 (+webhook)',
  });
  const webhookSecret = createWebhookSecretStore({ redis, prefix, envSecret: env.WEBHOOK_SECRET });
  const gate = createTargetGate({
    perTargetConcurrency: env.DELIVERY_PER_TARGET_CONCURRENCY ?? Math.max(1, Math.floor(env.DELIVERY_CONCURRENCY * 0.8)),
    workerConcurrency: env.DELIVERY_CONCURRENCY,
    redis,
    prefix,
    rateLimitPerHour: async () => (await settings.get('processing_prefs')).rate_limit_per_hour,
  });
  const offloadEnabled = env.R2_FETCH_ENABLED;
  const offloadProducer = offloadEnabled ? createProducer(offloadQueue, { connection: redis, prefix }) : undefined;
  const lock = jobLockOptions(env);

  /** processing_prefs.retry_count (when > 0) bounds the schedule; retry_delay_sec is then the minimum delay. */
  const retryFor = (s: Settings) =>
    s.processing_prefs.retry_count > 0
      ? { attempts: s.processing_prefs.retry_count + 1, floorMs: s.processing_prefs.retry_delay_sec * 1000 }
      : { attempts: retryPolicy.schedule.length + 1 };

  const notifyDeadLetter = async (job: Job<DeliverWebhookJob>, facts: AttemptFacts) => {
    if (job.data.kind !== 'email') return;
    const current = await readSettings(settings);
    const url = current.webhook_config.failure_webhook_url;
    if (!current.processing_prefs.notify_on_failure || !url) return;
    const webhookId = webhookIdFor(`${job.data.webhook_id}.failure`, url);
    await deliveryProducer.add(
      'deliver',
      {
        email_id: job.data.email_id,
        accepted_at: Date.now(),
        webhook_id: webhookId,
        subject: job.data.subject,
        kind: 'failure_notification',
        target: {
          url,
          origin: 'failure_notification',
          mode: 'json',
          fallback_on_415: false,
          tls_verify: true,
          require_success_flag: false,
        },
        payload: {
          event: 'delivery.failed',
          email_id: job.data.email_id,
          webhook_id: job.data.webhook_id,
          target: maskUrl(job.data.target.url),
          target_origin: job.data.target.origin,
          subject: job.data.subject,
          // The email's journey in the dashboard (absolute when PUBLIC_BASE_URL is set).
          journey_url: `${env.PUBLIC_BASE_URL?.replace(/\/$/, '') ?? ''}/dashboard/#emails/${encodeURIComponent(job.data.email_id)}`,
          failure_reason: facts.failure_reason,
          status_code: facts.status ?? null,
          attempts: job.attemptsMade + 1,
          failed_at: new Date().toISOString(),
        },
      },
      { jobId: webhookId, attempts: retryPolicy.schedule.length + 1, priority: 1 },
    );
    logger.info('delivery.failure_notified', { email_id: job.data.email_id, webhook_id: job.data.webhook_id });
  };

  const emailWorker = createConsumer(
    emailQueue,
    {
      process: (job, token) =>
        processEmail(job, token, {
          logger,
          settings,
          webhookLog,
          deliveryProducer,
          providers,
          retryFor,
          ...(journeys ? { journeys } : {}),
          planContext: (s) => ({
            providers,
            timeZone: env.POLLING_TIMEZONE,
            defaultTarget: resolveDefaultTarget(s.webhook_config, env),
            timeWindow: resolveTimeWindow(s.webhook_config, env),
            defaultTimeoutMs: env.DELIVERY_TIMEOUT,
            fieldScanLimit: env.FIELD_SCAN_LIMIT_KB * 1024,
            measure: (step, run) => {
              const stop = (step === 'rules' ? metrics.ruleEvaluation : metrics.detection).startTimer();
              try {
                return run();
              } finally {
                stop();
              }
            },
          }),
          ...(offloadProducer ? { offload: { producer: offloadProducer, deadlineMs: env.OFFLOAD_DEADLINE } } : {}),
        }),
    },
    { connection: redis, prefix, concurrency: env.EMAIL_CONCURRENCY, ...lock },
  );
  const deliveryWorker = createConsumer(
    deliveryQueue,
    {
      deliver: (job, token) =>
        deliverWebhookJob(job, token, {
          logger,
          metrics,
          deliverer,
          webhookLog,
          gate,
          secret: () => webhookSecret.current(),
          onDeadLetter: notifyDeadLetter,
          ...(journeys ? { journeys } : {}),
        }),
    },
    {
      connection: redis,
      prefix,
      concurrency: env.DELIVERY_CONCURRENCY,
      ...lock,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error, job?: { data: unknown }) => {
          const delay = nextRetryDelay(
            attemptsMade,
            retryPolicy,
            error instanceof RetryableDeliveryError ? error.facts.retry_after_ms : undefined,
          );
          const floor = (job?.data as DeliverWebhookJob | undefined)?.retry_floor_ms ?? 0;
          return Math.max(delay, floor);
        },
      },
    },
  );
  // The retry's due time is known once BullMQ has applied the backoff (job.delay): shown in the journey.
  if (journeys)
    deliveryWorker.on('failed', (job) => {
      if (!job || job.data.kind !== 'email' || job.attemptsMade >= (job.opts.attempts ?? 1) || !(job.delay > 0)) return;
      const at = Date.now();
      journeys.record(job.data.email_id, {
        type: 'retry_scheduled',
        at,
        webhook_id: job.data.webhook_id,
        job_id: job.id ?? job.data.webhook_id,
        next_attempt_at: at + job.delay,
      });
    });
  const workers = [emailWorker, deliveryWorker];
  if (offloadEnabled) {
    const offloader = createOffloader(offloadSettingsFrom(env), { redis, logger });
    workers.push(
      createConsumer(
        offloadQueue,
        { transfer: (job) => transferLink(job, { offloader, metrics }) },
        { connection: redis, prefix, concurrency: env.OFFLOAD_CONCURRENCY, ...lock },
      ),
    );
  }
  const gmail = env.GMAIL_PUSH_ENABLED ? await startGmailConsumer({ env, logger, redis, settings, lock }) : undefined;
  if (gmail) workers.push(gmail.worker);
  for (const worker of workers) {
    worker.on('error', (error) => logger.warn('worker.error', { queue: worker.name, error: error.message }));
    worker.on('completed', () => metrics.jobsCompleted.inc({ queue: worker.name }));
    worker.on('failed', (job, error) => {
      const willRetry = job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1) && !(error instanceof UnrecoverableError);
      (willRetry ? metrics.jobsRetried : metrics.jobsFailed).inc({ queue: worker.name });
      if (job && worker.name === emailQueue.name)
        logger.error('email.failed', { email_id: job.data?.email_id, error: error.message, attempts: job.attemptsMade });
    });
    void worker.run().catch((error: Error) => logger.error('worker.crashed', { queue: worker.name, error: error.message }));
  }
  logger.info('worker.started', {
    queues: workers.map((w) => w.name),
    delivery_concurrency: env.DELIVERY_CONCURRENCY,
    offload: offloadEnabled ? env.OFFLOAD_MODE : 'off',
    gmail_push: env.GMAIL_PUSH_ENABLED,
  });

  return {
    workers,
    async close() {
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), env.SHUTDOWN_TIMEOUT).unref());
      const closed = Promise.all(workers.map((w) => w.close())).then(() => 'closed' as const);
      const outcome = await Promise.race([closed, timeout]);
      if (outcome === 'timeout') {
        logger.warn('worker.shutdown_timeout', { timeout_ms: env.SHUTDOWN_TIMEOUT });
        await Promise.all(workers.map((w) => w.close(true).catch(() => {})));
      }
      await journeys?.flush();
      await deliveryProducer.close().catch(() => {});
      await offloadProducer?.close().catch(() => {});
      await gmail?.close();
      stopPublishing();
      await settings.close();
      subscriber.disconnect();
      deliverer.close();
    },
  };
}
