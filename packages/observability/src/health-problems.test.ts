import { describe, expect, it } from '@jest/globals';
import { failingTargets, healthProblems, type HealthFacts } from './health-problems';

const healthy: HealthFacts = {
  redisOk: true,
  workers: 1,
  deadLetters: 0,
  deadLetterThreshold: 100,
  hasTarget: true,
  failingTargets: [],
  ingressEnabled: true,
  sendingEnabled: true,
  absenceToday: false,
  withinWindow: null,
  window: {},
  gmail: { problems: [], needsReauth: 0 },
};

describe('healthProblems', () => {
  it.each<[string, Partial<HealthFacts>, string[], boolean]>([
    ['healthy', {}, [], false],
    ['Redis down (nothing else can be known)', { redisOk: false, workers: 0 }, ['redis_unavailable'], true],
    ['no live worker', { workers: 0 }, ['no_workers'], true],
    ['no target', { hasTarget: false }, ['no_webhook_target'], true],
    ['dead letters waiting', { deadLetters: 2 }, ['dead_letters_waiting'], false],
    ['dead letters over the threshold', { deadLetters: 101 }, ['dead_letters_growing'], true],
    ['a target failing repeatedly', { failingTargets: [{ target: 'https://x/***', consecutive_failures: 4 }] }, ['target_failing'], false],
    ['ingress disabled', { ingressEnabled: false }, ['ingress_disabled'], false],
    ['sending disabled', { sendingEnabled: false }, ['sending_disabled'], false],
    ['absence day', { absenceToday: true }, ['absence_today'], false],
    ['outside the window', { withinWindow: false, window: { start: '08:00', end: '18:00' } }, ['outside_time_window'], false],
    ['inside the window', { withinWindow: true, window: { start: '08:00', end: '18:00' } }, [], false],
    ['Gmail re-auth', { gmail: { problems: ['gmail_needs_reauth'], needsReauth: 1 } }, ['gmail_needs_reauth'], true],
    ['Gmail watch lapsed', { gmail: { problems: ['gmail_watch_expired'], needsReauth: 0 } }, ['gmail_watch_expired'], true],
    ['Gmail renewal failed', { gmail: { problems: ['gmail_watch_renewal_failed'], needsReauth: 0 } }, ['gmail_watch_renewal_failed'], true],
    ['Gmail sync stale', { gmail: { problems: ['gmail_sync_stale'], needsReauth: 0 } }, ['gmail_sync_stale'], true],
    ['Gmail resync cut short', { gmail: { problems: ['gmail_resync_truncated'], needsReauth: 0 } }, ['gmail_resync_truncated'], true],
    ['Gmail sync failing', { gmail: { problems: ['gmail_sync_failing'], needsReauth: 0 } }, ['gmail_sync_failing'], true],
  ])('%s', (_label, facts, codes, degrades) => {
    const problems = healthProblems({ ...healthy, ...facts });
    expect(problems.map((p) => p.code)).toEqual(codes);
    expect(problems.some((p) => p.degrades)).toBe(degrades);
    for (const p of problems) expect(p.message.length).toBeGreaterThan(10);
  });

  it('names the failing target and the window in words', () => {
    const [failing] = healthProblems({ ...healthy, failingTargets: [{ target: 'https://hook.make.com/***', consecutive_failures: 5 }] });
    expect(failing!.message).toContain('https://hook.make.com/***');
    expect(failing!.message).toContain('5');
    const [outside] = healthProblems({ ...healthy, withinWindow: false, window: { start: '08:00', end: '18:00' } });
    expect(outside!.message).toContain('08:00–18:00');
  });
});

describe('failingTargets', () => {
  const e = (status: string, url = 'https://a/***', type = 'custom') => ({ status, webhook_url: url, type });
  it.each([
    ['three errors in a row (newest first)', [e('error'), e('error'), e('error'), e('success')], 3],
    ['a success since', [e('success'), e('error'), e('error'), e('error')], 0],
    ['two errors only', [e('error'), e('error'), e('success')], 0],
    ['tests and skips ignored', [e('error'), e('success', 'https://a/***', 'test'), e('skipped'), e('error'), e('error')], 3],
  ])('%s', (_label, entries, streak) => {
    const out = failingTargets(entries);
    expect(out[0]?.consecutive_failures ?? 0).toBe(streak);
  });
  it('is per target, worst first', () => {
    const out = failingTargets([
      e('error', 'https://b/***'),
      e('error'),
      e('error', 'https://b/***'),
      e('error'),
      e('error', 'https://b/***'),
      e('error'),
      e('error', 'https://b/***'),
    ]);
    expect(out).toEqual([
      { target: 'https://b/***', consecutive_failures: 4 },
      { target: 'https://a/***', consecutive_failures: 3 },
    ]);
  });
});
