import type { Cluster, Redis } from 'ioredis';
import type { ApiEnv } from '@render-signal/config';
import { createSettingsStore, createWebhookSecretStore } from '@render-signal/config-store';
import { createTargetHealthStore, createWebhookDeliverer, createWebhookLog } from '@render-signal/delivery';
import { resolveProviders } from '@render-signal/detectors';
import { createApiMetrics, type Logger } from '@render-signal/observability';
import {
  alertQueue,
  catalogQueue,
  createProducer,
  deliveryQueue,
  duplicateConnection,
  emailQueue,
  gmailQueue,
  QUEUE_CATALOG,
} from '@render-signal/queue';
import { createJourneyRecorder, createJourneyStore } from '@render-signal/journeys';
import { createMailboxStore } from '@render-signal/gmail';
import type { AppDeps } from './app-deps';

export interface ApiResources {
  deps: AppDeps;
  /** Starts what needs a live connection (config change subscription). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Everything the API needs, built from the parsed env: used by main.ts and by tests alike. */
export function buildApiDeps(env: ApiEnv, logger: Logger, redis: Redis | Cluster): ApiResources {
  const subscriber = duplicateConnection(redis, { connectionName: 'rs-api-config', enableOfflineQueue: true });
  subscriber.on('error', () => {}); // state changes are logged by the main connection
  const settings = createSettingsStore({ redis, subscriber, env, logger });
  const emailProducer = createProducer(emailQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
  const gmailProducer = createProducer(gmailQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
  const deliveryProducer = createProducer(deliveryQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
  const alertProducer = createProducer(alertQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
  const deliverer = createWebhookDeliverer({
    allowPrivateNetwork: env.ALLOW_PRIVATE_NETWORK,
    timeoutMs: 30_000,
    userAgent: 'render-signal/0.1 (+webhook-test)',
  });
  // Read-only handles on every queue, for health, metrics and Bull Board.
  const queues = QUEUE_CATALOG.map((definition) => {
    // Read-only: no default job options (nothing is added through them).
    return catalogQueue({ name: definition.name }, { connection: redis, prefix: env.QUEUE_PREFIX });
  });
  const deps: AppDeps = {
    env,
    logger,
    redis,
    emailProducer,
    settings,
    webhookLog: createWebhookLog({
      redis,
      prefix: env.QUEUE_PREFIX,
      maxEntries: env.WEBHOOK_LOG_MAX_ENTRIES,
      maxAgeDays: env.WEBHOOK_LOG_MAX_AGE_DAYS,
    }),
    webhookSecret: createWebhookSecretStore({ redis, prefix: env.QUEUE_PREFIX, envSecret: env.WEBHOOK_SECRET }),
    deliverer,
    providers: resolveProviders(env.LINK_PROVIDERS),
    queues,
    metrics: createApiMetrics(),
    gmail: { producer: gmailProducer, mailboxes: createMailboxStore({ redis, prefix: env.QUEUE_PREFIX }) },
    journeys: {
      store: createJourneyStore({ redis, prefix: env.QUEUE_PREFIX }),
      recorder: createJourneyRecorder({
        redis,
        prefix: env.QUEUE_PREFIX,
        maxAgeDays: env.JOURNEY_MAX_AGE_DAYS,
        maxEntries: env.JOURNEY_MAX_ENTRIES,
        onError: (error) => logger.warn('journey.write_failed', { error: error.message }),
      }),
      deliveryProducer,
    },
    targets: { store: createTargetHealthStore({ redis, prefix: env.QUEUE_PREFIX }), alerts: alertProducer },
    startedAt: Date.now(),
  };
  return {
    deps,
    start: () => settings.start(),
    async close() {
      await settings.close();
      await emailProducer.close().catch(() => {});
      await gmailProducer.close().catch(() => {});
      await deliveryProducer.close().catch(() => {});
      await alertProducer.close().catch(() => {});
      await Promise.all(queues.map((q) => q.close().catch(() => {})));
      deliverer.close();
      subscriber.disconnect();
    },
  };
}
