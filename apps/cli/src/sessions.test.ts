import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startWorld, TEST_DASHBOARD_PASSWORD, type World } from '../../../test/helpers/world';

const run = promisify(execFile);

describe('npm run sessions -- revoke-all (the CLI, run as a process)', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ workers: false });
  });
  afterAll(async () => {
    await world.close();
  });

  const cli = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'apps/cli/src/sessions.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', REDIS_URL: world.redisUrl, QUEUE_PREFIX: world.prefix },
      timeout: 20_000,
    });

  async function login(): Promise<string> {
    const res = await fetch(`${world.apiUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: TEST_DASHBOARD_PASSWORD }).toString(),
    });
    return res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .join('; ');
  }
  const status = async (cookie: string) => (await fetch(`${world.apiUrl}/api/auth/session`, { headers: { cookie } })).status;

  it('logs out every dashboard session; logging in again works', async () => {
    const a = await login();
    const b = await login();
    expect([await status(a), await status(b)]).toEqual([200, 200]);
    const { stdout } = await cli(['revoke-all']);
    expect(stdout).toContain('every dashboard session is logged out');
    expect([await status(a), await status(b)]).toEqual([401, 401]);
    expect(await status(await login())).toBe(200);
  });

  it('refuses anything else with the usage (exit 2)', async () => {
    await expect(cli([])).rejects.toMatchObject({ code: 2 });
    await expect(cli(['revoke'])).rejects.toMatchObject({ code: 2 });
  });
});
