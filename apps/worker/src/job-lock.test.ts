import { describe, expect, it } from '@jest/globals';
import { EnvError, loadEnv, workerEnvSchema } from '@render-signal/config';
import { jobLockOptions, worstRecoveryMs } from './job-lock';

const REDIS_URL = 'redis://127.0.0.1:6379';

describe('job lock settings', () => {
  it('defaults: a killed worker’s jobs run again within 15 s', () => {
    const env = loadEnv(workerEnvSchema, { REDIS_URL });
    expect(jobLockOptions(env)).toEqual({ lockDuration: 10_000, lockRenewTime: 2_500, stalledInterval: 2_000, maxStalledCount: 3 });
    expect(worstRecoveryMs(env)).toBeLessThan(15_000);
  });

  it.each([
    ['1s', '250ms', { lockDuration: 1_000, lockRenewTime: 250, stalledInterval: 250 }],
    ['2s', '2s', { lockDuration: 2_000, lockRenewTime: 500, stalledInterval: 2_000 }],
    ['1m', '5s', { lockDuration: 60_000, lockRenewTime: 15_000, stalledInterval: 5_000 }],
  ])('JOB_LOCK_DURATION=%s JOB_STALLED_INTERVAL=%s', (lock, interval, expected) => {
    expect(jobLockOptions(loadEnv(workerEnvSchema, { REDIS_URL, JOB_LOCK_DURATION: lock, JOB_STALLED_INTERVAL: interval }))).toMatchObject(
      expected,
    );
  });

  it('refuses a lock too short to renew and a stalled check that would spin', () => {
    expect(() => loadEnv(workerEnvSchema, { REDIS_URL, JOB_LOCK_DURATION: '100ms' })).toThrow(EnvError);
    expect(() => loadEnv(workerEnvSchema, { REDIS_URL, JOB_STALLED_INTERVAL: '10ms' })).toThrow(EnvError);
  });
});
