import { describe, expect, it } from '@jest/globals';
import { apiEnvSchema, EnvError, loadEnv, workerEnvSchema } from './index';
import { isTriviallyRepetitive, weakSecretFindings } from './secrets';
import { parseTrustProxy } from './trust-proxy';

const STRONG_KEY = '3f9a1c7e5b2d8f4a6c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a';
const STRONG_TOKEN = 'Zr8kQ2mX5vN9pL3wT7yB1cF6';
const STRONG_PASSWORD = 'correct horse battery';
const strong = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  SECRET_KEY: STRONG_KEY,
  PROCESS_API_TOKEN: STRONG_TOKEN,
  TRIGGER_PAGE_PASSWORD: STRONG_PASSWORD,
};

describe('isTriviallyRepetitive', () => {
  it.each([
    ['a'.repeat(40), true],
    ['ab'.repeat(20), true],
    ['0123456789'.repeat(4), true],
    ['aaaaaaaabbbbbbbbccccccccdddddddd', true], // 4 distinct characters
    [STRONG_KEY, false],
    ['Zr8kQ2mX5vN9pL3wT7yB1cF6', false],
    ['abcdefghijklmnopqrstuvwxyz012345', false],
  ])('%s → %s', (value, expected) => {
    expect(isTriviallyRepetitive(value)).toBe(expected);
  });
});

describe('weakSecretFindings (the minimums)', () => {
  it.each([
    ['SECRET_KEY shorter than 32', { SECRET_KEY: 'k'.repeat(8) + 'abcdefgh12345678' }, 'SECRET_KEY'],
    ['SECRET_KEY of one character repeated', { SECRET_KEY: 'a'.repeat(64) }, 'SECRET_KEY'],
    ['a token shorter than 24', { PROCESS_API_TOKEN: ['12345678'] }, 'PROCESS_API_TOKEN'],
    ['one weak token among several', { PROCESS_API_TOKEN: [STRONG_TOKEN, 'short-token-1'] }, 'PROCESS_API_TOKEN'],
    ['a plain password shorter than 12', { TRIGGER_PAGE_PASSWORD: 'x' }, 'TRIGGER_PAGE_PASSWORD'],
    ['a short METRICS_TOKEN', { METRICS_TOKEN: 'metrics' }, 'METRICS_TOKEN'],
  ])('flags %s, naming the variable and a command', (_label, env, variable) => {
    const findings = weakSecretFindings(env);
    expect(findings).toHaveLength(1);
    expect(findings[0]?.variable).toBe(variable);
    expect(findings[0]?.message).toMatch(/openssl rand/);
  });

  it('accepts strong values, a werkzeug hash of any password, and unset ones', () => {
    expect(
      weakSecretFindings({ SECRET_KEY: STRONG_KEY, PROCESS_API_TOKEN: [STRONG_TOKEN], TRIGGER_PAGE_PASSWORD: STRONG_PASSWORD }),
    ).toEqual([]);
    expect(weakSecretFindings({ TRIGGER_PAGE_PASSWORD: 'pbkdf2:sha256:600000$salt$0123456789abcdef' })).toEqual([]);
    expect(weakSecretFindings({})).toEqual([]);
  });
});

describe('weak secrets and NODE_ENV', () => {
  it.each([
    ['SECRET_KEY', 'aaaaaaaaaaaaaaaa'],
    ['PROCESS_API_TOKEN', '12345678'],
    ['TRIGGER_PAGE_PASSWORD', 'x'],
  ])('production refuses a weak %s, saying which and how to make a good one', (name, value) => {
    let error: unknown;
    try {
      loadEnv(apiEnvSchema, { ...strong, NODE_ENV: 'production', [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    const problems = (error as EnvError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name} is too weak`));
    expect(problems[0]).toMatch(/openssl rand/);
  });

  it('production accepts strong secrets; outside production weak ones still load (the apps warn)', () => {
    expect(loadEnv(apiEnvSchema, { ...strong, NODE_ENV: 'production' }).NODE_ENV).toBe('production');
    const dev = loadEnv(apiEnvSchema, {
      ...strong,
      SECRET_KEY: 'aaaaaaaaaaaaaaaa',
      PROCESS_API_TOKEN: '12345678',
      TRIGGER_PAGE_PASSWORD: 'x',
    });
    expect(dev.NODE_ENV).toBe('development');
    expect(weakSecretFindings(dev).map((f) => f.variable)).toEqual(['SECRET_KEY', 'PROCESS_API_TOKEN', 'TRIGGER_PAGE_PASSWORD']);
  });

  it('the worker refuses a weak SECRET_KEY in production too', () => {
    expect(() => loadEnv(workerEnvSchema, { REDIS_URL: strong.REDIS_URL, NODE_ENV: 'production', SECRET_KEY: 'b'.repeat(40) })).toThrow(
      /SECRET_KEY is too weak/,
    );
  });
});

describe('TRUST_PROXY', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['false', false],
    ['0', false],
    ['true', true],
    ['1', 1],
    ['2', 2],
    ['loopback', ['loopback']],
    ['loopback, 10.0.0.0/8, fd00::/8', ['loopback', '10.0.0.0/8', 'fd00::/8']],
    ['uniquelocal,192.168.1.10', ['uniquelocal', '192.168.1.10']],
    ['10.0.0.0/255.0.0.0', ['10.0.0.0/255.0.0.0']],
  ])('%j → %j', (raw, expected) => {
    expect(parseTrustProxy(raw)).toEqual(expected);
  });

  it.each(['everyone', '10.0.0.0/33', '999.1.1.1', '50'])('refuses %j with a clear message', (raw) => {
    expect(() => loadEnv(apiEnvSchema, { ...strong, TRUST_PROXY: raw })).toThrow(/TRUST_PROXY/);
  });

  it('defaults to trusting no proxy', () => {
    expect(loadEnv(apiEnvSchema, strong).TRUST_PROXY).toBe(false);
  });
});
