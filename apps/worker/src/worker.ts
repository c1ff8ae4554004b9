import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WorkerEnv } from '@render-signal/config';
import { attemptsFor, createWebhookDeliverer, nextRetryDelay, RetryableDeliveryError, type RetryPolicy } from '@render-signal/delivery';
import type { Logger } from '@render-signal/observability';
import { createConsumer, createProducer, deliveryQueue, emailQueue } from '@render-signal/queue';
import { createEmailPlanner } from './pipeline/plan-email';
import { deliverWebhookJob } from './processors/delivery/deliver-webhook';
import { processEmail } from './processors/email/process-email';

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
export function startWorkers(deps: WorkerDeps): RunningWorkers {
  const { env, logger, redis } = deps;
  const retryPolicy: RetryPolicy = {
    schedule: env.DELIVERY_RETRY_SCHEDULE,
    jitter: env.DELIVERY_RETRY_JITTER,
    maxRetryAfterMs: env.DELIVERY_MAX_RETRY_AFTER,
  };
  const deliveryProducer = createProducer(deliveryQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
  const deliverer = createWebhookDeliverer({
    allowPrivateNetwork: env.ALLOW_PRIVATE_NETWORK,
    secret: env.WEBHOOK_SECRET,
    timeoutMs: env.DELIVERY_TIMEOUT,
    userAgent: 'render-signal/0.1 (+webhook)',
  });
  const planEmail = createEmailPlanner({ defaultWebhookUrl: env.WEBHOOK_URL });
  const lock = { lockDuration: env.JOB_LOCK_DURATION, stalledInterval: env.JOB_LOCK_DURATION };

  const emailWorker = createConsumer(
    emailQueue,
    { process: (job) => processEmail(job, { logger, deliveryProducer, planEmail, deliveryAttempts: attemptsFor(retryPolicy) }) },
    { connection: redis, prefix: env.QUEUE_PREFIX, concurrency: env.EMAIL_CONCURRENCY, ...lock },
  );
  const deliveryWorker = createConsumer(
    deliveryQueue,
    { deliver: (job) => deliverWebhookJob(job, { logger, deliverer }) },
    {
      connection: redis,
      prefix: env.QUEUE_PREFIX,
      concurrency: env.DELIVERY_CONCURRENCY,
      ...lock,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          nextRetryDelay(attemptsMade, retryPolicy, error instanceof RetryableDeliveryError ? error.facts.retry_after_ms : undefined),
      },
    },
  );
  const workers = [emailWorker, deliveryWorker];
  for (const worker of workers) {
    worker.on('error', (error) => logger.warn('worker.error', { queue: worker.name, error: error.message }));
    worker.on('failed', (job, error) => {
      if (job && worker.name === emailQueue.name) logger.error('email.failed', { email_id: job.data?.email_id, error: error.message, attempts: job.attemptsMade });
    });
    void worker.run().catch((error: Error) => logger.error('worker.crashed', { queue: worker.name, error: error.message }));
  }
  logger.info('worker.started', { queues: workers.map((w) => w.name), delivery_concurrency: env.DELIVERY_CONCURRENCY });

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
      await deliveryProducer.close().catch(() => {});
      deliverer.close();
    },
  };
}
