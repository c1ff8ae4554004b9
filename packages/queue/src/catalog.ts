import type { JobsOptions } from 'bullmq';
import type { z } from 'zod';
import {
  deadLetterDigestJobSchema,
  deliverWebhookJobSchema,
  importMessageJobSchema,
  offloadLinkJobSchema,
  pollMailboxesJobSchema,
  processEmailJobSchema,
  renewWatchJobSchema,
  sendAlertJobSchema,
  syncMailboxJobSchema,
} from '@render-signal/contracts';

/**
 * The queue catalog: every queue is defined once here (name, its jobs with their zod data schema,
 * default options). Producers, workers, Bull Board and the replay CLI all derive from these objects.
 */
export interface QueueDefinition<Jobs extends Record<string, z.ZodType> = Record<string, z.ZodType>> {
  readonly name: string;
  readonly jobs: Jobs;
  readonly defaultJobOptions: JobsOptions;
}

/**
 * Entries kept in each queue's BullMQ events stream (`<prefix>:<queue>:events`, trimmed approximately). Nothing
 * of ours reads it (no QueueEvents; Bull Board reads the job hashes): BullMQ's default of 10 000 held about
 * 0.4 KB per delivered email (a completed event carries the job's return value), kept as a short tail to debug.
 * Every handle on a queue writes this into the queue's meta hash, so every one is built by `catalogQueue`.
 */
export const EVENTS_STREAM_MAX_LEN = 1_000;

const HOUR_S = 3_600;
const DAY_S = 24 * HOUR_S;

function defineQueue<Jobs extends Record<string, z.ZodType>>(definition: QueueDefinition<Jobs>): QueueDefinition<Jobs> {
  return definition;
}

/** One job per accepted email: detect → route → plan deliveries (offloads and webhooks are their own jobs). */
export const emailQueue = defineQueue({
  name: 'email',
  jobs: { process: processEmailJobSchema },
  defaultJobOptions: {
    // Processing is internal work (no third party): a failure is a Redis blip or a bug, so a few quick retries.
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    // Completed email jobs hold the whole body (up to 10 MB) and nothing the console needs (what the fast path sent
    // is in the email's journey, a delivery job holds the rest): a day's tail for Bull Board, at most 1 000.
    removeOnComplete: { age: DAY_S, count: 1_000 },
    // Failed ones are the dead letter: kept 30 days so an operator can inspect and replay them.
    removeOnFail: { age: 30 * DAY_S, count: 50_000 },
  },
});

/** One job per (email, target): a slow or failing target only holds its own jobs. */
export const deliveryQueue = defineQueue({
  name: 'delivery',
  jobs: { deliver: deliverWebhookJobSchema },
  defaultJobOptions: {
    // The real attempt count comes from DELIVERY_RETRY_SCHEDULE (length + 1), set when the job is planned.
    attempts: 8,
    // 'schedule' is resolved by the delivery worker's backoffStrategy (schedule, jitter, Retry-After).
    backoff: { type: 'schedule' },
    removeOnComplete: { age: 7 * DAY_S, count: 20_000 },
    // Exhausted deliveries are the dead-letter set: kept 30 days with every attempt in the job log.
    removeOnFail: { age: 30 * DAY_S, count: 100_000 },
  },
});

/** One job per offloadable link; the email job waits for them as its children (BullMQ parent/child). */
export const offloadQueue = defineQueue({
  name: 'offload',
  jobs: { transfer: offloadLinkJobSchema },
  defaultJobOptions: {
    // A transfer honours its own deadline; one retry covers a worker that died mid-transfer (stalled job).
    attempts: 2,
    backoff: { type: 'fixed', delay: 1_000 },
    removeOnComplete: { age: DAY_S, count: 10_000 },
    removeOnFail: { age: 7 * DAY_S, count: 10_000 },
  },
});

/**
 * Gmail push ingress: `sync` (one mailbox from its history id), `renew-watch` and `poll` (job
 * schedulers with fixed ids, so one run per period across every worker), `import-message` (one
 * message the sync could not read: its failed jobs are the Gmail dead letter). Sync jobs carry a
 * per-mailbox deduplication id (set by the producer): a burst of notifications collapses into one.
 */
export const gmailQueue = defineQueue({
  name: 'gmail',
  jobs: {
    sync: syncMailboxJobSchema,
    'renew-watch': renewWatchJobSchema,
    poll: pollMailboxesJobSchema,
    'import-message': importMessageJobSchema,
  },
  defaultJobOptions: {
    // Gmail 429/5xx and token endpoint blips: a sync resumes from the stored history id, so retrying is safe.
    attempts: 5,
    backoff: { type: 'exponential', delay: 2_000 },
    // Small jobs, a few per minute per mailbox at most: an hour of history is enough to inspect.
    removeOnComplete: { age: HOUR_S, count: 1_000 },
    removeOnFail: { age: 7 * DAY_S, count: 5_000 },
  },
});

/**
 * Operator alerts (destination health transitions, dead-letter digest): one job per alert with a deterministic id,
 * so a transition seen by several workers is announced once. Its own queue and workers: an alert channel that is
 * down retries here and never delays a delivery.
 */
export const alertQueue = defineQueue({
  name: 'alert',
  jobs: { send: sendAlertJobSchema, digest: deadLetterDigestJobSchema },
  defaultJobOptions: {
    // A chat webhook or SMTP relay that is down: tried for about an hour (1 s doubling, capped by BullMQ at 12 tries).
    attempts: 12,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 7 * DAY_S, count: 1_000 },
    // Failed alerts show in /health; kept a week to be read.
    removeOnFail: { age: 7 * DAY_S, count: 1_000 },
  },
});

export const QUEUE_CATALOG = [emailQueue, deliveryQueue, offloadQueue, gmailQueue, alertQueue] as const;

export type JobName<D extends QueueDefinition> = Extract<keyof D['jobs'], string>;
export type JobData<D extends QueueDefinition, N extends JobName<D>> = z.infer<D['jobs'][N]>;
export type JobInput<D extends QueueDefinition, N extends JobName<D>> = z.input<D['jobs'][N]>;
