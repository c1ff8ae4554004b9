import type { Cluster, Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { ApiEnv } from '@render-signal/config';
import type { ApiMetrics, Logger } from '@render-signal/observability';
import type { SettingsStore, WebhookSecretStore } from '@render-signal/config-store';
import type { TargetHealthStore, WebhookDeliverer, WebhookLog } from '@render-signal/delivery';
import type { LinkProvider } from '@render-signal/detectors';
import type { Producer, alertQueue, deliveryQueue, emailQueue, gmailQueue } from '@render-signal/queue';
import type { JourneyRecorder, JourneyStore } from '@render-signal/journeys';
import type { MailboxStore } from '@render-signal/gmail';

/** What the API's routers are built from: defined apart from the composition root (app.ts), so no router imports it back. */
export interface AppDeps {
  env: ApiEnv;
  logger: Logger;
  /** Producer-profile connection (fails fast, so the ingress can answer 503). */
  redis: Redis | Cluster;
  emailProducer: Producer<typeof emailQueue>;
  /** Live config documents shared with the workers. */
  settings: SettingsStore;
  webhookLog: WebhookLog;
  webhookSecret: WebhookSecretStore;
  /** Used by "send test webhook" only; emails are delivered by workers. */
  deliverer: WebhookDeliverer;
  providers: readonly LinkProvider[];
  /** One read-only handle per catalog queue (health, metrics, Bull Board). */
  queues: Queue[];
  metrics: ApiMetrics;
  /** Gmail push ingress: sync jobs and the connected mailboxes (no credentials are read by the API). */
  gmail: { producer: Producer<typeof gmailQueue>; mailboxes: MailboxStore };
  /** Email journeys and hourly figures (read), operator actions on them (written), re-deliveries (queued). */
  journeys: { store: JourneyStore; recorder: JourneyRecorder; deliveryProducer: Producer<typeof deliveryQueue> };
  /** Destination health: the targets' states (read; operator pause/resume/discard written) and their alerts (queued). */
  targets: { store: TargetHealthStore; alerts: Producer<typeof alertQueue> };
  startedAt: number;
  /** Dedicated connection for the login rate limiter (main creates one); defaults to `redis`. */
  loginRateLimitRedis?: Redis | Cluster;
  /** Where the built dashboard lives; defaults to apps/dashboard/dist. */
  dashboardDir?: string;
}
