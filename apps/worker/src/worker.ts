import { UnrecoverableError, type MinimalJob, type Worker } from 'bullmq';
import { Cluster, type Redis } from 'ioredis';
import type { WorkerEnv } from '@render-signal/config';
import {
  createSettingsStore,
  createWebhookSecretStore,
  resolveDefaultTarget,
  resolveTimeWindow,
  type Settings,
} from '@render-signal/config-store';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import {
  createPayloadRenderer,
  createWebhookDeliverer,
  createWebhookLog,
  publishRetryPolicy,
  retryDelayAfter,
  retryForPrefs,
  type RetryPolicy,
} from '@render-signal/delivery';
import { resolveProviders } from '@render-signal/detectors';
import { createJourneyRecorder } from '@render-signal/journeys';
import { createOffloader } from '@render-signal/offload';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createWorkerMetrics, maskUrl, publishWorkerMetrics, type Logger } from '@render-signal/observability';
import {
  catalogQueue,
  createConsumer,
  createProducer,
  deliveryQueue,
  duplicateConnection,
  emailQueue,
  offloadQueue,
} from '@render-signal/queue';
import { jobLockOptions } from './job-lock';
import { offloadSettingsFrom } from './offload-settings';
import { createTargetGate } from './pipeline/target-gate';
import { deliverWebhookJob } from './processors/delivery/deliver-webhook';
import { startGmailConsumer } from './processors/gmail/gmail-consumer';
import { processEmail } from './processors/email/process-email';
import { transferLink } from './processors/offload/transfer-link';
import { deadLetterReason, startTargetHealth } from './target-health';
import { once, runCloseSteps } from './wiring/close-steps';
import { createDeadLetterNotifier } from './wiring/dead-letter-notifier';
import { recordScheduledRetries } from './wiring/retry-journal';
import { keepRunning, superviseIdleWorker } from './wiring/supervision';

export interface WorkerDeps {
  env: WorkerEnv;
  logger: Logger;
  /** Worker-profile connection (retries forever). */
  redis: Redis | Cluster;
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
  const subscriber = duplicateConnection(redis, { connectionName: 'rs-worker-config' });
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
  const lock = jobLockOptions(env);
  // Destination health: targets that fail are paused, their deliveries held and released when they are back; alerts.
  const targets = await startTargetHealth({ env, logger, redis, metrics, deliverer, deliveryProducer, lock, settings });
  // With the fast path the email worker also delivers: DELIVERY_CONCURRENCY more slots. One host holds at most
  // its per-target cap of them (counted with its delivery jobs), so a slow host cannot take them all.
  const emailSlots = env.EMAIL_CONCURRENCY + (env.DELIVERY_FAST_PATH ? env.DELIVERY_CONCURRENCY : 0);
  const gate = createTargetGate({
    perTargetConcurrency: env.DELIVERY_PER_TARGET_CONCURRENCY ?? Math.max(1, Math.floor(env.DELIVERY_CONCURRENCY * 0.8)),
    workerConcurrency: env.DELIVERY_CONCURRENCY,
    fastPathConcurrency: env.DELIVERY_FAST_PATH ? emailSlots : 0,
    redis,
    prefix,
    rateLimitPerHour: async () => (await settings.get('processing_prefs')).rate_limit_per_hour,
    health: targets.monitor,
  });
  // Flat and template bodies: templates compiled once per text (a settings change brings a new one), evaluation bounded.
  const renderer = createPayloadRenderer({ timeoutMs: env.TEMPLATE_TIMEOUT_MS, maxBodyBytes: env.WEBHOOK_MAX_BODY_BYTES });
  const attemptDeps = {
    metrics,
    deliverer,
    webhookLog,
    secret: () => webhookSecret.current(),
    journeys,
    renderer,
    targetHealth: targets.monitor,
  };
  const offloadEnabled = env.R2_FETCH_ENABLED;
  const offloadProducer = offloadEnabled ? createProducer(offloadQueue, { connection: redis, prefix }) : undefined;

  const retryFor = (s: Settings) => retryForPrefs(s.processing_prefs, retryPolicy);

  const notifyDeadLetter = createDeadLetterNotifier({
    settings,
    deliveryProducer,
    retryPolicy,
    publicBaseUrl: env.PUBLIC_BASE_URL,
    logger,
  });

  const makeEmailWorker = () =>
    createConsumer(
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
            ...(env.DELIVERY_FAST_PATH ? { fastPath: { gate, attempt: attemptDeps } } : {}),
          }),
      },
      { connection: redis, prefix, concurrency: emailSlots, ...lock },
    );
  const makeDeliveryWorker = () => {
    const worker = createConsumer(
      deliveryQueue,
      {
        deliver: (job, token) =>
          deliverWebhookJob(job, token, {
            ...attemptDeps,
            logger,
            gate,
            onDeadLetter: notifyDeadLetter,
            hold: { health: targets.monitor, holdMaxMs: env.TARGET_HOLD_MAX },
          }),
      },
      {
        connection: redis,
        prefix,
        concurrency: env.DELIVERY_CONCURRENCY,
        ...lock,
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, error?: Error, job?: MinimalJob<DeliverWebhookJob>) =>
            retryDelayAfter(attemptsMade, retryPolicy, error, job?.data.retry_floor_ms),
        },
      },
    );
    // Every dead letter is counted for the digest alert (per masked target and reason).
    worker.on('failed', (job, error) => {
      if (!job || (job.attemptsMade < (job.opts.attempts ?? 1) && !(error instanceof UnrecoverableError))) return;
      void targets.digest.count(maskUrl(job.data.target.url) ?? 'invalid', deadLetterReason(error)).catch(() => {});
    });
    // The retry's due time is known once BullMQ has applied the backoff (job.delay): shown in the journey.
    if (journeys) recordScheduledRetries(worker, journeys);
    return worker;
  };
  const workers = [makeEmailWorker(), makeDeliveryWorker(), targets.worker];
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
  const attach = (worker: Worker) => {
    worker.on('error', (error) => logger.warn('worker.error', { queue: worker.name, error: error.message }));
    worker.on('completed', () => metrics.jobsCompleted.inc({ queue: worker.name }));
    worker.on('failed', (job, error) => {
      const willRetry = job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1) && !(error instanceof UnrecoverableError);
      (willRetry ? metrics.jobsRetried : metrics.jobsFailed).inc({ queue: worker.name });
      if (job && worker.name === emailQueue.name)
        logger.error('email.failed', { email_id: job.data?.email_id, error: error.message, attempts: job.attemptsMade });
    });
    void keepRunning(worker, logger);
  };
  workers.forEach(attach);
  // On a Redis Cluster an idle worker's blocking connection can stay wedged after a master restarts (BullMQ
  // issue #4138): it then never fetches again. A worker idle while its queue has jobs ready is replaced.
  const stopSupervising =
    redis instanceof Cluster
      ? [makeEmailWorker, makeDeliveryWorker].map((make, index) =>
          superviseIdleWorker({
            workers,
            index,
            make,
            attach,
            queue: catalogQueue({ name: workers[index]!.name }, { connection: redis, prefix }),
            logger,
          }),
        )
      : [];
  logger.info('worker.started', {
    queues: workers.map((w) => w.name),
    delivery_concurrency: env.DELIVERY_CONCURRENCY,
    offload: offloadEnabled ? env.OFFLOAD_MODE : 'off',
    gmail_push: env.GMAIL_PUSH_ENABLED,
  });

  return {
    workers,
    close: once(async () => {
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), env.SHUTDOWN_TIMEOUT).unref());
      const closed = Promise.all(workers.map((w) => w.close())).then(() => 'closed' as const);
      await runCloseSteps([
        async () => {
          if ((await Promise.race([closed, timeout])) !== 'timeout') return;
          logger.warn('worker.shutdown_timeout', { timeout_ms: env.SHUTDOWN_TIMEOUT });
          await Promise.all(workers.map((w) => w.close(true).catch(() => {})));
        },
        () => journeys?.flush(),
        () => deliveryProducer.close().catch(() => {}),
        () => offloadProducer?.close().catch(() => {}),
        () => gmail?.close(),
        () => targets.close(),
        stopPublishing,
        () => Promise.all(stopSupervising.map((stop) => stop())),
        () => settings.close(),
        () => subscriber.disconnect(),
        () => deliverer.close(),
      ]);
    }),
  };
}
