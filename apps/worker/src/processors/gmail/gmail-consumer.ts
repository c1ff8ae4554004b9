import type { Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { WorkerEnv } from '@render-signal/config';
import type { SettingsStore } from '@render-signal/config-store';
import {
  BACKUP_POLL_SCHEDULER_ID,
  createAccessTokenSource,
  createCredentialCipher,
  createMailboxStore,
  WATCH_RENEWAL_SCHEDULER_ID,
} from '@render-signal/gmail';
import type { Logger, WorkerMetrics } from '@render-signal/observability';
import { createConsumer, createProducer, emailQueue, gmailQueue, type Producer } from '@render-signal/queue';
import { importMessage } from './import-message';
import { pollMailboxes } from './poll-mailboxes';
import { renewWatches } from './renew-watch';
import { syncMailbox, type GmailSyncContext } from './sync-mailbox';

/** Syncs of different mailboxes run side by side; each is mostly waiting on Gmail. */
const SYNC_CONCURRENCY = 5;

/**
 * The `gmail` queue's consumer (sync, renew-watch, poll, import-message) and its two job schedulers. Every worker
 * upserts the schedulers at startup: their ids are fixed, so Redis holds one schedule each and one
 * job per period, however many workers run (re-upserting keeps the pending slot, it does not run early).
 */
export async function startGmailConsumer(options: {
  env: WorkerEnv;
  logger: Logger;
  redis: Redis | Cluster;
  settings: SettingsStore;
  metrics: Pick<WorkerMetrics, 'gmailMessagesGone'>;
  lock: { lockDuration: number; lockRenewTime?: number; stalledInterval: number; maxStalledCount?: number };
}): Promise<{ worker: Worker; close(): Promise<void> }> {
  const { env, logger, redis } = options;
  const prefix = env.QUEUE_PREFIX;
  if (!env.SECRET_KEY || !env.GMAIL_PUBSUB_TOPIC) throw new Error('GMAIL_PUSH_ENABLED needs SECRET_KEY and GMAIL_PUBSUB_TOPIC');
  const mailboxes = createMailboxStore({ redis, prefix, cipher: createCredentialCipher(env.SECRET_KEY) });
  const tokens = createAccessTokenSource({
    mailboxes,
    ...(env.GOOGLE_OAUTH_CLIENT_ID && env.GOOGLE_OAUTH_CLIENT_SECRET
      ? {
          oauth: {
            tokenUrl: env.GOOGLE_OAUTH_TOKEN_URL,
            clientId: env.GOOGLE_OAUTH_CLIENT_ID,
            clientSecret: env.GOOGLE_OAUTH_CLIENT_SECRET,
          },
        }
      : {}),
    ...(env.GMAIL_SERVICE_ACCOUNT_KEY
      ? { serviceAccount: { key: env.GMAIL_SERVICE_ACCOUNT_KEY, tokenUrl: env.GOOGLE_OAUTH_TOKEN_URL } }
      : {}),
  });
  const emailProducer: Producer<typeof emailQueue> = createProducer(emailQueue, { connection: redis, prefix });
  const gmailProducer = createProducer(gmailQueue, { connection: redis, prefix });
  const ctx: GmailSyncContext = {
    logger,
    redis,
    prefix,
    mailboxes,
    tokens,
    gmailBaseUrl: env.GMAIL_API_BASE_URL,
    labelId: env.GMAIL_LABEL_FILTER,
    ingest: {
      settings: options.settings,
      emailProducer,
      senderAllowlist: env.GMAIL_SENDER_ALLOWLIST,
      timeZone: env.POLLING_TIMEZONE,
      dedupWindowMs: env.DEDUP_WINDOW_DAYS * 86_400_000,
      source: 'gmail_push',
    },
    resyncMaxMessages: env.GMAIL_RESYNC_MAX_MESSAGES,
    sendOwnMessages: env.GMAIL_SEND_OWN_MESSAGES,
    gmailProducer,
    errorLabel: env.GMAIL_ERROR_LABEL,
    metrics: options.metrics,
  };
  const worker = createConsumer(
    gmailQueue,
    {
      sync: (job, token) => syncMailbox(job, token, ctx),
      'renew-watch': () => renewWatches({ ...ctx, topicName: env.GMAIL_PUBSUB_TOPIC! }),
      poll: () => pollMailboxes({ mailboxes, producer: gmailProducer }),
      'import-message': (job, token) => importMessage(job, token, ctx),
    },
    { connection: redis, prefix, concurrency: SYNC_CONCURRENCY, ...options.lock },
  );
  await gmailProducer.queue.upsertJobScheduler(
    WATCH_RENEWAL_SCHEDULER_ID,
    { every: env.GMAIL_WATCH_RENEW_INTERVAL },
    { name: 'renew-watch', data: {} },
  );
  await gmailProducer.queue.upsertJobScheduler(BACKUP_POLL_SCHEDULER_ID, { every: env.GMAIL_POLL_INTERVAL }, { name: 'poll', data: {} });
  return {
    worker,
    async close() {
      await emailProducer.close().catch(() => {});
      await gmailProducer.close().catch(() => {});
    },
  };
}
