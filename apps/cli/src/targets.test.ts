import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTargetHealthStore, targetIdOf } from '@render-signal/delivery';
import { startWorld, type World } from '../../../test/helpers/world';

const run = promisify(execFile);

describe('npm run targets (the CLI, run as a process)', () => {
  let world: World;
  const url = 'https://hook.example.com/secret-scenario-token';
  const id = targetIdOf(url);
  beforeAll(async () => {
    world = await startWorld({ workers: false });
    // A target the workers have seen (their first attempt makes its record).
    await createTargetHealthStore({ redis: world.apiRedis, prefix: world.prefix }).update(id, 'https://hook.example.com/***', (r) => ({
      record: r,
    }));
  });
  afterAll(async () => {
    await world.close();
  });

  const cli = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'apps/cli/src/targets.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', REDIS_URL: world.redisUrl, QUEUE_PREFIX: world.prefix },
      timeout: 20_000,
    });

  it('lists targets (masked), pauses and resumes one with its alerts; refuses unknown ids and a discard of a running target', async () => {
    const listed = await cli(['list']);
    expect(listed.stdout).toContain(`${id}  healthy`);
    expect(listed.stdout).toContain('https://hook.example.com/***');
    expect(listed.stdout).not.toContain('secret-scenario-token');
    await expect(cli(['discard', id])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('only a paused target') });
    expect((await cli(['pause', id])).stdout).toContain('is paused (0 held)');
    const json = JSON.parse((await cli(['list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(json).toEqual([expect.objectContaining({ id, state: 'paused', operator: true, held: 0 })]);
    expect((await cli(['resume', id])).stdout).toContain('is recovering');
    const alerts = await world.apiRedis.keys(`${world.prefix}:alert:${id}.target.*`);
    expect(alerts.map((k) => k.split(':').pop()).sort()).toEqual([`${id}.target.paused.2`, `${id}.target.recovered.3`]);
    await expect(cli(['pause', '0123456789abcdef'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown target id'),
    });
    await expect(cli(['pause'])).rejects.toMatchObject({ code: 2 });
  }, 60_000);
});
