import { describe, expect, it } from '@jest/globals';
import { apiEnvSchema, EnvError, loadEnv, workerEnvSchema } from './index';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', PROCESS_API_TOKEN: 'token-12345', SECRET_KEY: 'x'.repeat(32) };

describe('loadEnv', () => {
  it('parses defaults', () => {
    const env = loadEnv(apiEnvSchema, base);
    expect(env.PORT).toBe(3000);
    expect(env.QUEUE_PREFIX).toBe('rs');
    expect(env.PROCESS_API_TOKEN).toEqual(['token-12345']);
    expect(env.ALLOW_PRIVATE_NETWORK).toBe(false);
    expect(env.INGRESS_MAX_BODY_MB).toBe(10);
  });

  it('accepts a comma-separated token list for rotation', () => {
    expect(loadEnv(apiEnvSchema, { ...base, PROCESS_API_TOKEN: 'old-token-1, new-token-2' }).PROCESS_API_TOKEN).toEqual([
      'old-token-1',
      'new-token-2',
    ]);
  });

  it('accepts FLASK_SECRET_KEY as an alias of SECRET_KEY', () => {
    const { SECRET_KEY: _drop, ...rest } = base;
    expect(loadEnv(apiEnvSchema, { ...rest, FLASK_SECRET_KEY: 'f'.repeat(20) }).SECRET_KEY).toBe('f'.repeat(20));
  });

  it.each([
    ['1', true],
    ['YES', true],
    ['on', true],
    ['off', false],
    ['0', false],
  ])('reads boolean %s as %s', (raw, expected) => {
    expect(loadEnv(apiEnvSchema, { ...base, ALLOW_PRIVATE_NETWORK: raw }).ALLOW_PRIVATE_NETWORK).toBe(expected);
  });

  it('lists every missing or wrong variable at once', () => {
    let caught: unknown;
    try {
      loadEnv(apiEnvSchema, { REDIS_URL: 'http://nope', ALLOW_PRIVATE_NETWORK: 'maybe', WEBHOOK_SECRET: 'plain' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EnvError);
    const problems = (caught as EnvError).problems.join('\n');
    expect(problems).toMatch(/REDIS_URL must start with redis:\/\//);
    expect(problems).toMatch(/PROCESS_API_TOKEN is required/);
    expect(problems).toMatch(/SECRET_KEY is required/);
    expect(problems).toMatch(/ALLOW_PRIVATE_NETWORK expected a boolean/);
    expect(problems).toMatch(/WEBHOOK_SECRET must be a Standard Webhooks secret/);
  });

  it('reads the retry schedule as milliseconds', () => {
    const env = loadEnv(workerEnvSchema, { REDIS_URL: base.REDIS_URL, DELIVERY_RETRY_SCHEDULE: '100ms, 2s,1m' });
    expect(env.DELIVERY_RETRY_SCHEDULE).toEqual([100, 2000, 60000]);
    expect(loadEnv(workerEnvSchema, { REDIS_URL: base.REDIS_URL }).DELIVERY_RETRY_SCHEDULE).toHaveLength(7);
  });
});
