import { UnrecoverableError, type Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import { createJourneyStore, type JourneyRecorder } from '@render-signal/journeys';
import type { Logger } from '@render-signal/observability';
import {
  catalogQueue,
  createConsumer,
  createReplayStore,
  emailQueue,
  replayQueue,
  type deliveryQueue,
  type Producer,
} from '@render-signal/queue';
import { countReplayOutcomes, runReplay, type ReplayRunDeps } from './run-replay';

/** Replays run side by side (each paced on its own); a few are plenty. */
const REPLAY_CONCURRENCY = 4;

/** The bulk replay runner of this process, and the hook that counts replayed deliveries' outcomes. */
export function startReplayConsumer(options: {
  redis: Redis | Cluster;
  prefix: string;
  logger: Logger;
  journeys: JourneyRecorder | undefined;
  deliveryProducer: Producer<typeof deliveryQueue>;
  plan: ReplayRunDeps['plan'];
  lock: { lockDuration: number; lockRenewTime?: number; stalledInterval: number; maxStalledCount?: number };
}): { worker: Worker; countOutcomes(worker: Worker<DeliverWebhookJob>): void; close(): Promise<void> } {
  const { redis, prefix, logger } = options;
  const replays = createReplayStore({ redis, prefix });
  // Read-only (the kept email jobs, for `payload: current`).
  const emailJobs = catalogQueue({ name: emailQueue.name }, { connection: redis, prefix });
  const worker: Worker = createConsumer(
    replayQueue,
    {
      run: (job, token) =>
        runReplay(job, token, {
          closing: () => Boolean(worker.closing),
          logger,
          replays,
          journeys: createJourneyStore({ redis, prefix }),
          recorder: options.journeys,
          deliveryProducer: options.deliveryProducer,
          queues: { delivery: options.deliveryProducer.queue, email: emailJobs },
          plan: options.plan,
        }),
    },
    { connection: redis, prefix, concurrency: REPLAY_CONCURRENCY, ...options.lock },
  );
  // A run that fails for good (its record unreadable, or out of attempts) ends its replay as `failed`, with why.
  worker.on('failed', (job, error) => {
    if (!job || (job.attemptsMade < (job.opts.attempts ?? 1) && !(error instanceof UnrecoverableError))) return;
    const replayId = (job.data as { replay_id?: unknown }).replay_id;
    if (typeof replayId === 'string')
      void replays
        .end(replayId, 'failed', Date.now(), error.message)
        .catch((e: Error) => logger.warn('replay.end_failed', { error: e.message }));
  });
  return {
    worker,
    countOutcomes: (delivery) => countReplayOutcomes(delivery, { replays, logger }),
    close: () => emailJobs.close().catch(() => {}),
  };
}
