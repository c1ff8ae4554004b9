import { describe, expect, it } from '@jest/globals';
import { failingTargets, GMAIL_GAP_LIMITS, healthProblems, type GmailMailboxProblem, type HealthFacts } from './health-problems';

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
  gmail: { problems: [] },
};
const box = 'o***@example.org';
const T = Date.parse('2026-06-01T12:00:00Z');
const gmail = (...problems: GmailMailboxProblem[]) => ({ gmail: { problems } });

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
    ['Gmail re-auth', gmail({ mailbox: box, code: 'gmail_needs_reauth', lastError: 'invalid_grant' }), ['gmail_needs_reauth'], true],
    ['Gmail watch lapsed', gmail({ mailbox: box, code: 'gmail_watch_expired', watchExpiresAt: T }), ['gmail_watch_expired'], true],
    [
      'Gmail renewal failed',
      gmail({ mailbox: box, code: 'gmail_watch_renewal_failed', renewalError: '503', watchExpiresAt: T }),
      ['gmail_watch_renewal_failed'],
      true,
    ],
    ['Gmail sync stale', gmail({ mailbox: box, code: 'gmail_sync_stale', lastSyncAt: T }), ['gmail_sync_stale'], true],
    [
      'Gmail resync cut short',
      gmail({ mailbox: box, code: 'gmail_resync_truncated', gap: { from: T, to: T, at_least: 3, reasons: ['max_messages'] } }),
      ['gmail_resync_truncated'],
      true,
    ],
    ['Gmail sync failing', gmail({ mailbox: box, code: 'gmail_sync_failing', syncError: 'label' }), ['gmail_sync_failing'], true],
    ['Gmail rate limited (a notice)', gmail({ mailbox: box, code: 'gmail_rate_limited', until: T }), ['gmail_rate_limited'], false],
    [
      'two mailboxes, one problem each',
      gmail(
        { mailbox: box, code: 'gmail_sync_stale', lastSyncAt: T },
        { mailbox: 'p***@example.org', code: 'gmail_sync_stale', lastSyncAt: T },
      ),
      ['gmail_sync_stale', 'gmail_sync_stale'],
      true,
    ],
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

describe('Gmail problems in words', () => {
  it('names the mailbox, the facts and the action for each', () => {
    const [reauth] = healthProblems({ ...healthy, ...gmail({ mailbox: box, code: 'gmail_needs_reauth', lastError: 'invalid_grant' }) });
    expect(reauth!.message).toMatch(/o\*\*\*@example\.org.*invalid_grant.*Action : relancer npm run gmail:connect/);
    const [gap] = healthProblems({
      ...healthy,
      ...gmail({
        mailbox: box,
        code: 'gmail_resync_truncated',
        gap: { from: Date.parse('2026-05-01T08:00:00Z'), to: Date.parse('2026-05-02T09:30:00Z'), at_least: 42, reasons: ['dedup_window'] },
      }),
    });
    expect(gap!.message).toContain('au moins 42 e-mail(s)');
    expect(gap!.message).toContain('du 2026-05-01 08:00 UTC au 2026-05-02 09:30 UTC');
    expect(gap!.message).toContain('DEDUP_WINDOW_DAYS');
    expect(gap!.message).toContain('acquitter');
    // Both limits Gmail sets, said with the notice.
    expect(gap!.message).toContain(GMAIL_GAP_LIMITS);
    expect(GMAIL_GAP_LIMITS).toMatch(/archivé ou supprimé/);
    expect(GMAIL_GAP_LIMITS).toMatch(/avant la connexion/);
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
