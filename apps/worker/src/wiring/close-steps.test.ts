import { describe, expect, it } from '@jest/globals';
import { once, runCloseSteps } from './close-steps';

describe('close steps', () => {
  it('runs every step in order even when one throws, then throws the first error', async () => {
    const ran: string[] = [];
    const steps = [
      () => ran.push('workers'),
      async () => {
        ran.push('flush');
        throw new Error('redis gone');
      },
      () => {
        ran.push('producer');
        throw new Error('second');
      },
      async () => ran.push('settings'),
    ];
    await expect(runCloseSteps(steps)).rejects.toThrow('redis gone');
    expect(ran).toEqual(['workers', 'flush', 'producer', 'settings']);
  });

  it('a close() called twice runs once and both calls get its outcome', async () => {
    let runs = 0;
    const close = once(async () => {
      runs += 1;
      await new Promise((resolve) => setImmediate(resolve));
    });
    await Promise.all([close(), close()]);
    await close();
    expect(runs).toBe(1);
  });
});
