import type { WorkerEnv } from '@render-signal/config';

export interface JobLockOptions {
  lockDuration: number;
  lockRenewTime: number;
  stalledInterval: number;
  maxStalledCount: number;
}

/**
 * BullMQ's lock on a running job, from the env. The worker running a job renews its lock every quarter of
 * JOB_LOCK_DURATION (BullMQ's default is half), so a live worker keeps its job, however long it runs (a 90 s
 * offload, a slow target), unless its event loop is blocked for 3/4 of the lock. A worker that died stops
 * renewing: its lock expires at most JOB_LOCK_DURATION after the death, and the next stalled check (every
 * JOB_STALLED_INTERVAL, whichever worker runs it) hands the job back to the queue. With the defaults (10 s, 2 s)
 * a killed worker's jobs are running again within 12 s.
 * BullMQ fails a job that stalls more than maxStalledCount times: 3 tolerates a few crashes in a row (e.g. a
 * crash-looping deploy) before the job goes to the failed set, where it can still be replayed.
 */
export function jobLockOptions(env: Pick<WorkerEnv, 'JOB_LOCK_DURATION' | 'JOB_STALLED_INTERVAL'>): JobLockOptions {
  return {
    lockDuration: env.JOB_LOCK_DURATION,
    lockRenewTime: Math.max(1, Math.floor(env.JOB_LOCK_DURATION / 4)),
    stalledInterval: env.JOB_STALLED_INTERVAL,
    maxStalledCount: 3,
  };
}

/** The longest a killed worker's job waits before another worker can take it (lock expiry + one stalled check). */
export function worstRecoveryMs(env: Pick<WorkerEnv, 'JOB_LOCK_DURATION' | 'JOB_STALLED_INTERVAL'>): number {
  return env.JOB_LOCK_DURATION + env.JOB_STALLED_INTERVAL;
}
