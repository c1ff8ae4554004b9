import { describe, expect, it } from '@jest/globals';
import { EnvError, loadEnv, workerEnvSchema } from './index';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', R2_FETCH_ENABLED: 'true' };

function problemsOf(source: Record<string, string>): string[] {
  try {
    loadEnv(workerEnvSchema, source);
    return [];
  } catch (error) {
    if (error instanceof EnvError) return error.problems;
    throw error;
  }
}

describe('offload settings are complete at start', () => {
  const worker = {
    ...base,
    OFFLOAD_MODE: 'worker',
    R2_FETCH_ENDPOINT: 'https://r2-fetch.example.workers.dev/',
    R2_FETCH_TOKEN: 't'.repeat(32),
  };
  const direct = {
    ...base,
    OFFLOAD_MODE: 'direct',
    S3_ENDPOINT: 'https://s3.example.net',
    S3_ACCESS_KEY_ID: 'id',
    S3_SECRET_ACCESS_KEY: 'secret',
  };

  it.each([
    ['worker', worker, 'R2_FETCH_ENDPOINT'],
    ['worker', worker, 'R2_FETCH_TOKEN'],
    // The shipped Worker refuses a request without a bucket (400 "bucket is required"): refuse to start instead.
    ['worker', worker, 'R2_BUCKET_NAME'],
    ['direct', direct, 'S3_ENDPOINT'],
    ['direct', direct, 'R2_BUCKET_NAME'],
  ])('%s mode refuses to start without %s', (mode, settings, missing) => {
    const source: Record<string, string> = { ...settings, R2_BUCKET_NAME: 'render-signal-offload' };
    delete source[missing];
    expect(problemsOf(source)).toEqual([`${missing} is required when R2_FETCH_ENABLED=true and OFFLOAD_MODE=${mode}`]);
  });

  it('starts when worker mode has endpoint, token and bucket', () => {
    const env = loadEnv(workerEnvSchema, { ...worker, R2_BUCKET_NAME: 'render-signal-offload' });
    expect(env.R2_BUCKET_NAME).toBe('render-signal-offload');
  });

  it('a blank bucket name counts as missing', () => {
    expect(problemsOf({ ...worker, R2_BUCKET_NAME: '  ' })).toEqual([
      'R2_BUCKET_NAME is required when R2_FETCH_ENABLED=true and OFFLOAD_MODE=worker',
    ]);
  });

  it('offload off needs none of them', () => {
    expect(problemsOf({ REDIS_URL: base.REDIS_URL, R2_FETCH_ENABLED: 'false' })).toEqual([]);
  });
});
