import { describe, expect, it } from '@jest/globals';
import type { ReplayRecord } from '@render-signal/contracts';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { createReplayStore } from './replays';

const record = (id: string, total: number): ReplayRecord => ({
  id,
  who: 'test',
  created_at: Date.now(),
  request: { status: 'dead_lettered' },
  filter: { status: 'dead_lettered', words: [] },
  payload: 'original',
  rate_per_s: 10,
  state: 'running',
  started_at: null,
  finished_at: null,
  cursor: 0,
  walked: false,
  error: null,
  total,
  sent: 0,
  delivered: 0,
  failed: 0,
  skipped: 0,
});

describe('replay store (real Redis)', () => {
  const ctx = useTestRedis('replays');
  const store = () => createReplayStore({ redis: ctx.redis, prefix: ctx.prefix });
  const items = (n: number) => Array.from({ length: n }, (_, i) => ({ email_id: `e${i}`, webhook_id: `msg_${i}` }));

  it('saves, reads back validated, lists newest first, and pages the selection', async () => {
    const s = store();
    await s.create(record('rp_a', 3), items(3));
    await s.create({ ...record('rp_b', 0), created_at: Date.now() + 1 }, []);
    expect(await s.get('rp_a')).toMatchObject({ id: 'rp_a', total: 3, cursor: 0, walked: false, started_at: null, state: 'running' });
    expect(await s.get('rp_nope')).toBeNull();
    expect((await s.list(10)).map((r) => r.id)).toEqual(['rp_b', 'rp_a']);
    expect(await s.items('rp_a', 1, 5)).toEqual([
      { email_id: 'e1', webhook_id: 'msg_1' },
      { email_id: 'e2', webhook_id: 'msg_2' },
    ]);
  });

  it('a step repeated after a crash counts its jobs once; outcomes count once; done when all are counted', async () => {
    const s = store();
    await s.create(record('rp_c', 3), items(3));
    await s.markStarted('rp_c', 1_000);
    await s.markStarted('rp_c', 2_000);
    await s.advance('rp_c', { cursor: 2, queuedJobIds: ['j0', 'j1'], skipped: 0, last: false, now: 1 });
    expect(await s.outcome('rp_c', 'j0', 'delivered', 1)).toBe(true);
    // The runner died before saving its cursor: the same step again (BullMQ ignores the same job ids).
    await s.advance('rp_c', { cursor: 2, queuedJobIds: ['j0', 'j1'], skipped: 0, last: false, now: 1 });
    expect(await s.outcome('rp_c', 'j0', 'delivered', 1)).toBe(false);
    expect(await s.get('rp_c')).toMatchObject({ sent: 2, delivered: 1, cursor: 2, started_at: 1_000 });
    expect(await s.pendingJobIds('rp_c')).toEqual(['j1']);
    // The last item could not be sent (its kept job expired): skipped.
    expect(await s.advance('rp_c', { cursor: 3, queuedJobIds: [], skipped: 1, last: true, now: 5 })).toBe('running');
    await s.outcome('rp_c', 'j1', 'failed', 9);
    expect(await s.get('rp_c')).toMatchObject({
      state: 'done',
      finished_at: 9,
      sent: 2,
      delivered: 1,
      failed: 1,
      skipped: 1,
      walked: true,
    });
  });

  it('cancel ends a running replay once; a finished one keeps its state', async () => {
    const s = store();
    await s.create(record('rp_d', 1), items(1));
    expect(await s.end('rp_d', 'cancelled', 7)).toBe('cancelled');
    expect(await s.end('rp_d', 'failed', 8)).toBe('cancelled');
    expect(await s.get('rp_d')).toMatchObject({ state: 'cancelled', finished_at: 7 });
    expect(await s.end('rp_nope', 'cancelled', 7)).toBeNull();
  });
});
