import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { createMagicLinkStore, deriveAuthKeys } from '@render-signal/auth';
import { useTestRedis } from '../../../test/helpers/test-redis';

const run = promisify(execFile);
const SECRET = 'cli-test-secret-key-0123456789';

describe('npm run magic-link (the CLI, run as a process)', () => {
  const { redis, redisUrl, prefix } = useTestRedis('cli-ml');
  const store = createMagicLinkStore({ redis, prefix, key: deriveAuthKeys(SECRET).magicLink });

  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, ['--import', 'tsx', 'apps/cli/src/magic-link.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, SECRET_KEY: SECRET, ...env },
      timeout: 20_000,
    });
  const tokenOf = (stdout: string) => stdout.trim().split('/login/magic/')[1] ?? '';

  it('prints a single-use link under PUBLIC_BASE_URL that logs in exactly once', async () => {
    const { stdout, stderr } = await cli([], { PUBLIC_BASE_URL: 'https://signal.example.com' });
    expect(stdout.trim()).toMatch(/^https:\/\/signal\.example\.com\/login\/magic\/[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(stderr).toContain('single-use link');
    const token = tokenOf(stdout);
    expect((await store.consume(token)).ok).toBe(true);
    expect(await store.consume(token)).toEqual({ ok: false, reason: 'used' });
  });

  it('--unlimited prints a permanent link, listed for revocation', async () => {
    const { stdout } = await cli(['--unlimited', '--label', 'first login', '--base-url', 'https://ops.example.com/']);
    expect(stdout).toMatch(/^https:\/\/ops\.example\.com\/login\/magic\//);
    const result = await store.consume(tokenOf(stdout));
    expect(result).toMatchObject({ ok: true, unlimited: true });
    expect((await store.listPermanent()).find((l) => l.label === 'first login')).toBeDefined();
  });

  it('in production refuses to print a link without PUBLIC_BASE_URL or --base-url (exit 1)', async () => {
    await expect(cli([], { NODE_ENV: 'production' })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('PUBLIC_BASE_URL'),
    });
    const { stdout } = await cli(['--base-url', 'https://ops.example.com'], { NODE_ENV: 'production' });
    expect(stdout).toMatch(/^https:\/\/ops\.example\.com\/login\/magic\//);
  });

  it('refuses unknown flags with the usage (exit 2)', async () => {
    await expect(cli(['--forever'])).rejects.toMatchObject({ code: 2 });
  });

  it('explains a missing SECRET_KEY (exit 1)', async () => {
    await expect(cli([], { SECRET_KEY: '' })).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('SECRET_KEY') });
  });
});
