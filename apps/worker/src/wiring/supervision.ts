import type { Queue, Worker } from 'bullmq';
import type { Logger } from '@render-signal/observability';

/**
 * Runs a BullMQ worker's fetch loop, and runs it again if it ever stops on an error (seen with a Redis Cluster
 * whose master restarts: an error outside BullMQ's own retries ends the loop and the worker would sit idle
 * with jobs waiting). Stops when the worker is closing.
 */
export async function keepRunning(worker: Worker, logger: Logger): Promise<void> {
  for (;;) {
    try {
      await worker.run();
      return;
    } catch (error) {
      if (worker.closing) return;
      logger.error('worker.crashed', { queue: worker.name, error: (error as Error).message, restarting_in_ms: 1_000 });
      await new Promise((r) => setTimeout(r, 1_000));
      if (worker.closing) return;
    }
  }
}

/** How often an idle worker is checked, and how long it may stay idle with jobs ready before it is replaced. */
const SUPERVISE_EVERY_MS = 5_000;
const STUCK_AFTER_MS = 15_000;

export function superviseIdleWorker(options: {
  workers: Worker[];
  index: number;
  make: () => Worker;
  attach: (worker: Worker) => void;
  queue: Queue;
  logger: Logger;
}): () => Promise<void> {
  const { workers, index, queue, logger } = options;
  options.queue.on('error', () => {});
  let lastActivity = Date.now();
  const watch = (worker: Worker) => {
    for (const event of ['active', 'completed', 'failed'] as const) worker.on(event, () => (lastActivity = Date.now()));
  };
  watch(workers[index]!);
  let checking = false;
  const timer = setInterval(() => {
    const current = workers[index]!;
    if (checking || current.closing || Date.now() - lastActivity < STUCK_AFTER_MS) return;
    checking = true;
    void queue
      .getJobCounts('wait', 'prioritized')
      .then((counts) => {
        if ((counts.wait ?? 0) + (counts.prioritized ?? 0) === 0 || current.closing) {
          lastActivity = Date.now();
          return;
        }
        const next = options.make();
        workers[index] = next;
        watch(next);
        options.attach(next);
        lastActivity = Date.now();
        logger.warn('worker.replaced', { queue: current.name, ready_jobs: (counts.wait ?? 0) + (counts.prioritized ?? 0) });
        // Graceful: a worker that was only busy with long jobs finishes them (its locks stay renewed).
        void Promise.race([current.close(), new Promise((r) => setTimeout(r, 5_000))]).catch(() => {});
      })
      .catch(() => {})
      .finally(() => (checking = false));
  }, SUPERVISE_EVERY_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await queue.close().catch(() => {});
  };
}
