import { describe, expect, it } from '@jest/globals';
import { useTestRedis } from '../../../../test/helpers/test-redis';
import { createTargetGate, FAST_HOST_ANSWER_MS, FAST_PATH_MAX_ANSWER_MS, type TargetGateOptions } from './target-gate';

const A = 'https://a.example/hook';
const A_OTHER_PATH = 'https://a.example/other';
const B = 'https://b.example/hook';

describe('target gate (real Redis)', () => {
  const { redis, prefix } = useTestRedis('gate');
  const gate = (overrides: Partial<TargetGateOptions> = {}) =>
    createTargetGate({
      perTargetConcurrency: 2,
      workerConcurrency: 5,
      redis,
      prefix,
      rateLimitPerHour: async () => 0,
      random: () => 0.5,
      ...overrides,
    });
  /** A gate whose host a.example already has its 2 slots in flight. */
  const fullGate = async (briefWaitMs: number) => {
    const g = gate({ briefWaitMs });
    await g.admit(A);
    await g.admit(A);
    return g;
  };

  it('admits up to the per-host cap, counting every path of a host together; other hosts are not affected', async () => {
    const g = gate({ briefWaitMs: 5 });
    expect(await g.admit(A)).toEqual({ admitted: true });
    expect(await g.admit(A_OTHER_PATH)).toEqual({ admitted: true });
    expect(await g.admit(A)).toEqual({ admitted: false, reason: 'target_busy', waitMs: 100 });
    expect(await g.admit(B)).toEqual({ admitted: true });
    g.release(A);
    expect(await g.admit(A)).toEqual({ admitted: true });
  });

  it('a job finding its host full gets the next freed slot of that host if one frees within the brief wait', async () => {
    const g = await fullGate(1_000);
    const waiting = g.admit(A);
    setTimeout(() => g.release(A), 20);
    expect(await waiting).toEqual({ admitted: true });
    // The slot was handed over, not freed: the host is still full, and another host's release does not help.
    const next = g.admit(A);
    g.release(B);
    setTimeout(() => g.release(A), 20);
    expect(await next).toEqual({ admitted: true });
  });

  it('past the brief wait, a job for a full host is delayed (target_busy)', async () => {
    const g = await fullGate(50);
    const started = Date.now();
    expect(await g.admit(A)).toEqual({ admitted: false, reason: 'target_busy', waitMs: 100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    // The timed-out waiter left no trace: the next release frees a slot for anyone.
    g.release(A);
    expect(await g.admit(A)).toEqual({ admitted: true });
  });

  it('waiters for one host never take the last free worker slot: past that, jobs are delayed at once', async () => {
    // 5 slots, cap 2: at most 5 - 2 - 1 = 2 jobs wait for the busy host, so one slot stays for other hosts.
    const g = await fullGate(10_000);
    const waiters = [g.admit(A), g.admit(A)];
    const started = Date.now();
    expect(await g.admit(A)).toMatchObject({ admitted: false, reason: 'target_busy' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await g.admit(B)).toEqual({ admitted: true });
    g.release(A);
    g.release(A);
    expect(await Promise.all(waiters)).toEqual([{ admitted: true }, { admitted: true }]);
  });

  it("a busy host's delay follows how fast it answers: a moving average, bounded to 10 ms .. 1 s", async () => {
    const g = await fullGate(0);
    // Nothing known yet: the default delay.
    expect(await g.admit(A)).toMatchObject({ reason: 'target_busy', waitMs: 100 });
    g.release(A, 200);
    await g.admit(A);
    expect(await g.admit(A)).toMatchObject({ reason: 'target_busy', waitMs: 200 });
    g.release(A, 400); // 200 + 0.2 × (400 − 200)
    await g.admit(A);
    expect(await g.admit(A)).toMatchObject({ reason: 'target_busy', waitMs: 240 });
    // Another host's answers do not count for this one.
    g.release(B, 5);
    expect(await g.admit(A)).toMatchObject({ waitMs: 240 });
    const fast = await fullGate(0);
    fast.release(A, 2);
    await fast.admit(A);
    expect(await fast.admit(A)).toMatchObject({ reason: 'target_busy', waitMs: 10 });
    const slow = await fullGate(0);
    slow.release(A, 30_000);
    await slow.admit(A);
    expect(await slow.admit(A)).toMatchObject({ reason: 'target_busy', waitMs: 1_000 });
  });

  it('a job that cannot wait (no token) is always admitted', async () => {
    const g = gate();
    for (let i = 0; i < 4; i++) expect(await g.admit(A, false)).toEqual({ admitted: true });
  });

  it('enforces rate_limit_per_hour per URL across gates sharing Redis, and gives back the host slot when limited', async () => {
    const options = { rateLimitPerHour: async () => 2, prefix: `${prefix}:rl`, briefWaitMs: 5 };
    const first = gate(options);
    const second = gate(options); // another worker process
    expect(await first.admit(A)).toEqual({ admitted: true });
    expect(await second.admit(A)).toEqual({ admitted: true });
    const limited = await first.admit(A);
    expect(limited).toMatchObject({ admitted: false, reason: 'rate_limited' });
    expect(limited.admitted === false && limited.waitMs).toBeGreaterThan(3_500_000);
    // Another URL has its own window; the limited attempt did not keep a slot on host a.example.
    expect(await first.admit(A_OTHER_PATH)).toEqual({ admitted: true });
  });

  describe('admitFast (the email job delivering its single target itself)', () => {
    it('shares the per-host cap with delivery jobs; at most fastPathConcurrency fast-path requests in all', async () => {
      const g = gate({ fastPathConcurrency: 2, briefWaitMs: 5 });
      expect(await g.admitFast(A)).toEqual({ admitted: true });
      expect(await g.admit(A)).toEqual({ admitted: true }); // delivery jobs: the host's second slot
      expect(await g.admitFast(A_OTHER_PATH)).toEqual({ admitted: false, reason: 'target_busy' }); // host a.example at its cap of 2, both paths counted
      expect(await g.admitFast(B)).toEqual({ admitted: true }); // another host
      expect(await g.admitFast('https://c.example/hook')).toEqual({ admitted: false, reason: 'fast_slots_full' }); // every fast-path slot taken
      g.release(A, 10, true);
      expect(await g.admit(A)).toEqual({ admitted: true }); // the freed host slot serves a delivery job too
      expect(await g.admitFast('https://c.example/hook')).toEqual({ admitted: true }); // and the fast-path slot another host
      g.release(A, 10);
      expect(await g.admitFast(A)).toEqual({ admitted: false, reason: 'fast_slots_full' }); // fast-path slots: B and c.example
      g.release(B, 10, true);
      expect(await g.admitFast(A)).toEqual({ admitted: true });
    });

    it('refuses a target destination health does not call healthy (typed), taking no slot', async () => {
      const unhealthy = new Set([A]);
      const g = gate({ fastPathConcurrency: 1, health: { acceptsFast: (url) => !unhealthy.has(url) } });
      expect(await g.admitFast(A)).toEqual({ admitted: false, reason: 'target_unhealthy' });
      expect(await g.admitFast(B)).toEqual({ admitted: true }); // the one fast-path slot was still free
    });

    it('admits nothing without fast-path slots (DELIVERY_FAST_PATH=false)', async () => {
      expect(await gate().admitFast(A)).toEqual({ admitted: false, reason: 'fast_slots_full' });
    });

    it('waits no longer than the brief wait for a full host, takes a slot freed within it, and refuses a slow host', async () => {
      const g = gate({ fastPathConcurrency: 5, briefWaitMs: 50 });
      await g.admit(A);
      await g.admit(A);
      const started = Date.now();
      expect(await g.admitFast(A)).toEqual({ admitted: false, reason: 'target_busy' });
      expect(Date.now() - started).toBeLessThan(1_000);
      const waiting = g.admitFast(A);
      setTimeout(() => g.release(A, 5), 10);
      expect(await waiting).toEqual({ admitted: true });
      const slow = gate({ fastPathConcurrency: 5 });
      expect(await slow.admitFast(B)).toEqual({ admitted: true });
      slow.release(B, FAST_PATH_MAX_ANSWER_MS * 4, true);
      expect(await slow.admitFast(B)).toEqual({ admitted: false, reason: 'target_slow' });
      expect(await slow.admit(B)).toEqual({ admitted: true });
    });

    it(`waits longer for a full host known to answer fast (≤ ${FAST_HOST_ANSWER_MS} ms) than for one not known yet`, async () => {
      const g = gate({ fastPathConcurrency: 5, fastPathWaitMs: 40 });
      await g.admit(A);
      await g.admit(A);
      // Not known yet: refused after 40 ms.
      let started = Date.now();
      expect(await g.admitFast(A)).toEqual({ admitted: false, reason: 'target_busy' });
      expect(Date.now() - started).toBeLessThan(150);
      // Known fast (answered in 5 ms): a slot freed after 100 ms (> 40 ms) is still taken.
      g.release(A, 5);
      await g.admit(A);
      started = Date.now();
      const waiting = g.admitFast(A);
      setTimeout(() => g.release(A, 5), 100);
      expect(await waiting).toEqual({ admitted: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    });

    it('counts in the rate window, and refuses (freeing its slot) when the window is full', async () => {
      // A host cap above the limit: the third request meets the full window, not a full host.
      const g = gate({ perTargetConcurrency: 5, fastPathConcurrency: 5, rateLimitPerHour: async () => 2 });
      const url = `${A}?fast=${Date.now()}`;
      expect(await g.admitFast(url)).toEqual({ admitted: true });
      expect(await g.admit(url)).toEqual({ admitted: true });
      expect(await g.admitFast(url)).toEqual({ admitted: false, reason: 'rate_limited' });
      g.release(url, 5, true);
      g.release(url, 5);
      // Nothing left in flight: a host with room admits again (another URL has its own window).
      expect(await g.admitFast(B)).toEqual({ admitted: true });
      expect(await g.admitFast(A)).toEqual({ admitted: true });
    });
  });
});
