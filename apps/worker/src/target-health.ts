import { Job, type Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { WorkerEnv } from '@render-signal/config';
import type { SettingsStore } from '@render-signal/config-store';
import {
  createAlertSender,
  createDeadLetterDigest,
  createTargetHealthMonitor,
  createTargetHealthStore,
  type DeadLetterDigest,
  type TargetHealthMonitor,
  type TargetHealthPolicy,
  type WebhookDeliverer,
  transitionAlert,
} from '@render-signal/delivery';
import { maskUrl, type Logger, type WorkerMetrics } from '@render-signal/observability';
import { alertQueue, createConsumer, createProducer, duplicateConnection, type deliveryQueue, type Producer } from '@render-signal/queue';
import type { JobLockOptions } from './job-lock';
import { deadLetterDigestJob } from './processors/alert/dead-letter-digest';
import { sendAlertJob } from './processors/alert/send-alert';

const DIGEST_SCHEDULER_ID = 'dead-letter-digest';

export interface TargetHealthDeps {
  env: WorkerEnv;
  logger: Logger;
  redis: Redis | Cluster;
  metrics: WorkerMetrics;
  deliverer: WebhookDeliverer;
  deliveryProducer: Producer<typeof deliveryQueue>;
  lock: JobLockOptions;
  /** The live settings: webhook_config's alert_webhook_url and alert_email_to win over the env. */
  settings: Pick<SettingsStore, 'get'>;
}

export interface RunningTargetHealth {
  monitor: TargetHealthMonitor;
  policy: TargetHealthPolicy;
  digest: DeadLetterDigest;
  /** The alert queue's worker (sends alerts; runs the digest). */
  worker: Worker;
  close(): Promise<void>;
}

/** A dead letter's reason for the digest: the attempt's failure reason, or why a held delivery was dropped. */
export function deadLetterReason(error: Error): string {
  const facts = (error as { facts?: { failure_reason?: string } }).facts;
  return facts?.failure_reason ?? error.message.slice(0, 60);
}

export function targetHealthPolicy(env: WorkerEnv): TargetHealthPolicy {
  return {
    failingAfter: env.TARGET_FAILING_AFTER,
    pauseAfterMs: env.TARGET_PAUSE_AFTER,
    probeIntervalMs: env.TARGET_PROBE_INTERVAL,
    probeMaxIntervalMs: env.TARGET_PROBE_MAX_INTERVAL,
    holdMaxMs: env.TARGET_HOLD_MAX,
  };
}

/**
 * Destination health in a worker process: the monitor (cached states, held deliveries, the leader's probes and
 * releases), the alert queue's worker (transitions and the dead-letter digest, sent on the webhook and SMTP
 * channels) and the digest's job scheduler.
 */
export async function startTargetHealth(deps: TargetHealthDeps): Promise<RunningTargetHealth> {
  const { env, logger, redis } = deps;
  const prefix = env.QUEUE_PREFIX;
  const policy = targetHealthPolicy(env);
  const alerts = createProducer(alertQueue, { connection: redis, prefix });
  const subscriber = duplicateConnection(redis, { connectionName: 'rs-worker-targets' });
  subscriber.on('error', () => {}); // state changes are logged by the main connection
  const store = createTargetHealthStore({ redis, prefix });
  const monitor = createTargetHealthMonitor({
    store,
    redis,
    subscriber,
    prefix,
    policy,
    releaseRatePerSecond: env.TARGET_RELEASE_RATE,
    maskUrl: (url) => maskUrl(url) ?? 'invalid',
    log: logger,
    async promote(jobId) {
      const job = await Job.fromId(deps.deliveryProducer.queue, jobId);
      if (!job) return 'gone';
      const state = await job.getState();
      if (state === 'active') return 'active';
      if (state !== 'delayed') return state === 'waiting' || state === 'prioritized' || state === 'waiting-children' ? 'waiting' : 'gone';
      await job.promote().catch(() => {});
      return 'promoted';
    },
    async onEvent(event, record, facts) {
      const alert = transitionAlert(event, record, facts);
      await alerts.add('send', alert.data, { jobId: alert.jobId });
    },
  });
  await monitor.start();
  const digest = createDeadLetterDigest({ redis, prefix });
  const sender = createAlertSender({
    deliverer: deps.deliverer,
    dashboardBaseUrl: env.PUBLIC_BASE_URL,
    channels: async () => {
      const config = await deps.settings.get('webhook_config');
      return {
        webhookUrl: config.alert_webhook_url ?? env.ALERT_WEBHOOK_URL,
        webhookSecret: env.ALERT_WEBHOOK_SECRET,
        smtpUrl: env.SMTP_URL,
        emailTo: config.alert_email_to || env.ALERT_EMAIL_TO,
        emailFrom: env.ALERT_EMAIL_FROM,
      };
    },
  });
  const worker = createConsumer(
    alertQueue,
    {
      send: (job) => sendAlertJob(job, { sender, metrics: deps.metrics, logger }),
      digest: () => deadLetterDigestJob({ digest, alerts }),
    },
    { connection: redis, prefix, concurrency: 2, ...deps.lock },
  );
  await alerts.queue.upsertJobScheduler(DIGEST_SCHEDULER_ID, { every: env.ALERT_DIGEST_INTERVAL }, { name: 'digest', data: {} });
  let closed = false;
  return {
    monitor,
    policy,
    digest,
    worker,
    async close() {
      if (closed) return;
      closed = true;
      await monitor.close();
      await alerts.close().catch(() => {});
      sender.close();
      subscriber.disconnect();
    },
  };
}
