import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { createTargetHealthMonitor, type TargetHealthMonitor } from './target-health-monitor';
import { createTargetHealthStore } from './target-health-store';
import { targetIdOf, type TargetEvent, type TargetHealthPolicy } from './target-health';

const policy: TargetHealthPolicy = {
  failingAfter: 5,
  pauseAfterMs: 60_000,
  probeIntervalMs: 1_000,
  probeMaxIntervalMs: 2_000,
  holdMaxMs: 600_000,
};
const URL_A = 'https://hook.example.com/scenario-a';
const fail = { ok: false as const, status: 503, reason: 'upstream_server_error' as const };

/** Several workers' monitors on one Redis (real): transitions are atomic, pushed to every cache, one event each. */
describe('destination health across workers (real Redis)', () => {
  const { redis, redisUrl, prefix } = useTestRedis('targets');
  const monitors: TargetHealthMonitor[] = [];
  const subscribers: Redis[] = [];
  const events: Array<{ event: TargetEvent; version: number }> = [];
  const promoted: string[] = [];
  /** Jobs the fake queue reports as running (active) when promoted. */
  const active = new Set<string>();
  const store = createTargetHealthStore({ redis, prefix });
  const make = async (clock: () => number = Date.now) => {
    const subscriber = new Redis(redisUrl);
    subscribers.push(subscriber);
    const monitor = createTargetHealthMonitor({
      store: createTargetHealthStore({ redis, prefix }),
      redis,
      subscriber,
      prefix,
      policy,
      releaseRatePerSecond: 3,
      promote: async (jobId) => {
        promoted.push(jobId);
        return active.has(jobId) ? 'active' : 'promoted';
      },
      onEvent: async (event, record) => {
        events.push({ event, version: record.version });
      },
      maskUrl: () => 'https://hook.example.com/***',
      log: { warn: () => {}, info: () => {} },
      tickMs: 60_000, // ticks driven by the test
      now: clock,
    });
    await monitor.start();
    monitors.push(monitor);
    return monitor;
  };
  afterAll(async () => {
    await Promise.all(monitors.map((m) => m.close()));
    subscribers.forEach((s) => s.disconnect());
  });

  it('40 concurrent failures seen by 4 workers: one failing transition, one event; every cache follows', async () => {
    const workers = await Promise.all([make(), make(), make(), make()]);
    expect(workers.every((w) => w.acceptsFast(URL_A))).toBe(true);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        workers[i % 4]!.observe(URL_A, { ...fail, jobId: `j${i}` }, { jobId: `j${i}`, arrivedAt: Date.now() + i }),
      ),
    );
    const record = await store.read(targetIdOf(URL_A));
    expect(record).toMatchObject({ state: 'failing', failures: 40, target: 'https://hook.example.com/***' });
    expect(events.filter((e) => e.event === 'target.failing')).toHaveLength(1);
    // Pushed to every worker (pub/sub): none takes the fast path any more.
    for (const w of workers) await waitFor(() => !w.acceptsFast(URL_A));
    // Each delivery that failed once the target was failing is listed as held (36 of 40), for an early release.
    expect(await store.heldCount(record!.id)).toBe(36);
  });

  it('the leader probes, then on success releases the held ones at the release rate, oldest first; then healthy', async () => {
    let now = Date.now() + 61_000;
    const leader = await make(() => now);
    const id = targetIdOf(URL_A);
    await leader.tick(); // failing for longer than TARGET_PAUSE_AFTER: paused
    expect((await store.read(id))?.state).toBe('paused');
    expect(events.filter((e) => e.event === 'target.paused')).toHaveLength(1);
    expect(await leader.admitJob({ url: URL_A, jobId: 'new', arrivedAt: now })).toMatchObject({ send: false, hold: true });
    const oldest = (await store.oldestHeld(id))!;
    now += 1_000;
    await leader.tick(); // a probe: the oldest held
    expect(promoted).toEqual([oldest.jobId]);
    expect(await leader.admitJob({ url: URL_A, jobId: 'other', arrivedAt: oldest.arrivedAt })).toMatchObject({ hold: true });
    expect(await leader.admitJob({ url: URL_A, jobId: oldest.jobId, arrivedAt: oldest.arrivedAt })).toEqual({ send: true });
    // The probe fails: held again, the next probe waits twice as long.
    expect(await leader.observe(URL_A, { ...fail, jobId: oldest.jobId }, { jobId: oldest.jobId, arrivedAt: oldest.arrivedAt })).toBe(
      'paused',
    );
    expect((await store.read(id))?.next_probe_at).toBe(now + 2_000);
    now += 1_000;
    await leader.tick();
    expect(promoted).toEqual([oldest.jobId]); // not yet
    now += 1_000;
    await leader.tick();
    expect(promoted).toEqual([oldest.jobId, oldest.jobId]);
    expect(await leader.observe(URL_A, { ok: true, jobId: oldest.jobId })).toBe('recovering');
    expect(events.filter((e) => e.event === 'target.recovered')).toHaveLength(1);
    promoted.length = 0;
    const next3 = (await redis.zrange(`${prefix}:target:${id}:held`, 0, 2)) as string[];
    now += 1_000;
    await leader.tick();
    expect(promoted).toEqual(next3); // 3 per second, oldest first
    while ((await store.heldCount(id)) > 0) {
      now += 1_000;
      await leader.tick();
    }
    now += 1_000;
    await leader.tick();
    expect((await store.read(id))?.state).toBe('healthy');
    expect(promoted.at(-1)).toBe('new');
  });

  it('a held delivery found running when released (being held again from an older view) stays on the list', async () => {
    const url = 'https://hook.example.com/scenario-b';
    const id = targetIdOf(url);
    const now = Date.now();
    const leader = await make(() => now);
    await store.update(id, 'https://hook.example.com/***', (r) => ({ record: { ...r, state: 'recovering', since: now } }));
    await store.hold(id, 'busy', now - 2);
    await store.hold(id, 'idle', now - 1);
    active.add('busy');
    promoted.length = 0;
    await redis.del(`${prefix}:target:leader`); // the previous test's leader would hold it for 3 ticks
    await leader.tick();
    expect(promoted.sort()).toEqual(['busy', 'idle']);
    expect(await redis.zrange(`${prefix}:target:${id}:held`, 0, -1)).toEqual(['busy']);
    active.delete('busy');
    await leader.tick();
    expect(await store.heldCount(id)).toBe(0);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
