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

describe('Redis target: one node or a cluster', () => {
  const api = { PROCESS_API_TOKEN: base.PROCESS_API_TOKEN, SECRET_KEY: base.SECRET_KEY };
  const problemsOf = (source: Record<string, string>) => {
    try {
      loadEnv(apiEnvSchema, source);
      return '';
    } catch (error) {
      return (error as EnvError).problems.join('\n');
    }
  };
  it.each<[string, Record<string, string>, RegExp]>([
    ['neither REDIS_URL nor REDIS_CLUSTER_NODES', {}, /REDIS_URL is required .*or REDIS_CLUSTER_NODES/],
    ['cluster without a hash-tagged prefix', { REDIS_CLUSTER_NODES: 'a:7000' }, /QUEUE_PREFIX must hold a hash tag .*QUEUE_PREFIX=\{rs\}/],
    ['cluster, prefix named but untagged', { REDIS_CLUSTER_NODES: 'a:7000', QUEUE_PREFIX: 'prod' }, /QUEUE_PREFIX=\{prod\}/],
    ['a seed that is not host:port', { REDIS_CLUSTER_NODES: 'a:7000,b:notaport', QUEUE_PREFIX: '{rs}' }, /"b:notaport" is not host:port/],
    ['a seed with a path', { REDIS_CLUSTER_NODES: 'redis://a:7000/2', QUEUE_PREFIX: '{rs}' }, /is not host:port/],
    ['two hash tags', { REDIS_URL: base.REDIS_URL, QUEUE_PREFIX: '{a}{b}' }, /QUEUE_PREFIX may only contain/],
    ['an empty hash tag', { REDIS_URL: base.REDIS_URL, QUEUE_PREFIX: '{}' }, /QUEUE_PREFIX may only contain/],
    ['a stray brace', { REDIS_URL: base.REDIS_URL, QUEUE_PREFIX: 'rs}' }, /QUEUE_PREFIX may only contain/],
  ])('refused: %s', (_name, source, expected) => {
    expect(problemsOf({ ...api, ...source })).toMatch(expected);
  });

  it('REDIS_CLUSTER_NODES wins over REDIS_URL; seeds as host:port or URLs with TLS and credentials', () => {
    const env = loadEnv(apiEnvSchema, {
      ...api,
      REDIS_URL: base.REDIS_URL,
      REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, rediss://user:p%40ss@cache.example:6380 ,[::1]:7002',
      QUEUE_PREFIX: '{rs}',
    });
    expect(env.REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.1', port: 7000, tls: false },
      { host: 'cache.example', port: 6380, tls: true, username: 'user', password: 'p@ss' },
      { host: '::1', port: 7002, tls: false },
    ]);
    expect(env.QUEUE_PREFIX).toBe('{rs}');
  });

  it.each(['{rs}', '{rs}prod', 'team-{rs}', 'rs'])('prefix %s accepted on one node', (prefix) => {
    expect(loadEnv(apiEnvSchema, { ...api, REDIS_URL: base.REDIS_URL, QUEUE_PREFIX: prefix }).QUEUE_PREFIX).toBe(prefix);
  });
});

describe('destination health and alert settings', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadEnv(workerEnvSchema, { ...base, ...env });
      return '';
    } catch (error) {
      return (error as EnvError).problems.join('\n');
    }
  };
  it('has the documented defaults', () => {
    const env = loadEnv(workerEnvSchema, base);
    expect([env.TARGET_FAILING_AFTER, env.TARGET_PAUSE_AFTER, env.TARGET_PROBE_INTERVAL, env.TARGET_PROBE_MAX_INTERVAL]).toEqual([
      5, 600_000, 30_000, 300_000,
    ]);
    expect([env.TARGET_RELEASE_RATE, env.TARGET_HOLD_MAX, env.ALERT_DIGEST_INTERVAL]).toEqual([20, 7 * 86_400_000, 900_000]);
  });
  it.each([
    ['smtp//broken', 'is not a URL'],
    ['http://mail.example.com', 'has the scheme "http:"'],
  ])('a broken SMTP_URL (%s) refuses to start in production, naming the variable', (url, why) => {
    const found = problems({ NODE_ENV: 'production', SMTP_URL: url, ALERT_EMAIL_TO: 'ops@example.com' });
    expect(found).toContain(`SMTP_URL ${why}`);
    expect(found).toContain('refused with NODE_ENV=production');
    expect(problems({ SMTP_URL: url })).toBe('');
  });
  it('accepts a good SMTP_URL; refuses an alert URL that is not http(s) and unordered probe intervals', () => {
    expect(
      problems({ NODE_ENV: 'production', SMTP_URL: 'smtps://u:p@smtp.example.com:465', ALERT_EMAIL_TO: 'ops@example.com' }),
    ).not.toContain('SMTP');
    expect(problems({ ALERT_WEBHOOK_URL: 'ftp://hooks.example.com/x' })).toContain('ALERT_WEBHOOK_URL must be an http(s) URL');
    expect(problems({ ALERT_WEBHOOK_URL: 'http://hooks.example.com/x' })).toContain('ALERT_WEBHOOK_URL must be https');
    expect(problems({ ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/x', ALLOW_PRIVATE_NETWORK: 'true' })).toBe('');
    expect(problems({ TARGET_PROBE_INTERVAL: '1m', TARGET_PROBE_MAX_INTERVAL: '30s' })).toContain(
      'TARGET_PROBE_MAX_INTERVAL must be at least TARGET_PROBE_INTERVAL',
    );
  });
});
