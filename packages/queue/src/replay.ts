import type { Queue } from 'bullmq';

export type ReplaySelection = { all: true } | { ids: string[] };

/**
 * Moves dead-lettered (failed) jobs back to waiting with a fresh attempt budget. The job keeps its id,
 * so a replayed delivery keeps its webhook-id and receivers can still dedup.
 */
export async function replayFailedJobs(queue: Queue, selection: ReplaySelection): Promise<number> {
  let replayed = 0;
  if ('ids' in selection) {
    for (const id of selection.ids) {
      const job = await queue.getJob(id);
      if (!job) throw new Error(`no job ${id} in queue ${queue.name}`);
      if ((await job.getState()) !== 'failed') throw new Error(`job ${id} in queue ${queue.name} is not failed`);
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      replayed += 1;
    }
    return replayed;
  }
  const pageSize = 500;
  for (;;) {
    const page = await queue.getFailed(0, pageSize - 1);
    if (page.length === 0) return replayed;
    for (const job of page) {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      replayed += 1;
    }
  }
}
