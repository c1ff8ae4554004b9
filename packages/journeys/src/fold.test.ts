import { describe, expect, it } from '@jest/globals';
import {
  attemptEvent,
  clipExcerpt,
  decidingCondition,
  dispatchedEvent,
  plannedEvent,
  receivedEvent,
  skipKind,
  skippedEvent,
} from './build';
import {
  emailStatus,
  foldJourney,
  listItem,
  matchesFilter,
  parseQueryWords,
  summaryFields,
  summaryHashSchema,
  type TargetState,
} from './fold';
import type { JourneyEvent } from './events';

const target = {
  url: 'https://hook.eu2.make.com/secret-token',
  origin: 'default',
  mode: 'json' as const,
  fallback_on_415: true,
  tls_verify: true,
  require_success_flag: false,
};

describe('emailStatus', () => {
  it.each<[string | null, TargetState[], string]>([
    [null, [], 'in_progress'],
    [null, ['pending'], 'in_progress'],
    [null, ['retrying', 'delivered'], 'retrying'],
    [null, ['delivered', 'pending'], 'in_progress'],
    [null, ['delivered', 'delivered'], 'delivered'],
    [null, ['delivered', 'failed'], 'failed'],
    [null, ['cancelled'], 'failed'],
    ['filtered', [], 'filtered'],
    ['skipped', [], 'skipped'],
    ['failed', [], 'failed'],
  ])('skip %s, targets %j → %s', (skip, states, expected) => {
    expect(emailStatus(skip as 'skipped' | null, states)).toBe(expected);
  });
});

describe('decidingCondition', () => {
  const cond = (value: string, matched: boolean) => ({ field: 'subject', operator: 'contains', value, matched });
  const rule = (match: 'all' | 'any', conditions: ReturnType<typeof cond>[], enabled = true) => ({
    id: 'r',
    name: 'R',
    enabled,
    match,
    matched: false,
    reached: true,
    applied: false,
    conditions,
  });
  it.each([
    ['all: the first failing condition', rule('all', [cond('a', true), cond('b', false), cond('c', false)]), 'b'],
    ['all: every condition held → the last', rule('all', [cond('a', true), cond('b', true)]), 'b'],
    ['any: the first that held', rule('any', [cond('a', false), cond('b', true), cond('c', true)]), 'b'],
    ['any: none held → the last', rule('any', [cond('a', false), cond('b', false)]), 'b'],
  ])('%s', (_label, r, value) => {
    expect(decidingCondition(r)?.value).toBe(value);
  });
  it('is null for a disabled rule or no conditions', () => {
    expect(decidingCondition(rule('all', [cond('a', true)], false))).toBeNull();
    expect(decidingCondition(rule('all', []))).toBeNull();
  });
});

describe('skipKind', () => {
  it.each([
    ['outside_time_window', 'skipped'],
    ['no_target', 'failed'],
    ['excluded_keyword', 'filtered'],
    ['no_delivery_links', 'filtered'],
    ['too_large', 'filtered'],
    ['no_attachments', 'filtered'],
  ])('%s → %s', (reason, kind) => expect(skipKind(reason)).toBe(kind));
});

describe('clipExcerpt', () => {
  it('keeps at most 1 KB of UTF-8 without cutting a character', () => {
    expect(clipExcerpt('short')).toBe('short');
    const long = clipExcerpt('é'.repeat(2000))!;
    expect(Buffer.byteLength(long, 'utf8')).toBeLessThanOrEqual(1024);
    expect(long).toBe('é'.repeat(512));
    expect(clipExcerpt(undefined)).toBeNull();
  });
});

describe('foldJourney', () => {
  const events: JourneyEvent[] = [
    receivedEvent({ jobId: 'job-1', acceptedAt: 1_000, source: 'gmail_push', subject: 'Facture', sender: 'a@example.org', now: 1_010 }),
    plannedEvent({
      detection: { detector: 'recadrage', delivery_time: '14h30' },
      windowVerdict: 'inside_window',
      matches: [],
      stoppedBy: null,
      links: [{ provider: 'dropbox', raw_url: 'https://www.dropbox.com/s/x' }],
      targets: [{ webhookId: 'msg_1', url: target.url, origin: 'default', priority: 5 }],
      offloading: 1,
      now: 1_020,
    }),
    { type: 'offload', at: 1_500, links: [{ index: 0, provider: 'dropbox', outcome: 'failed', reason: 'source_timeout', detail: null }] },
    dispatchedEvent({ deliveries: [{ webhookId: 'msg_1', jobId: 'msg_1', target, priority: 5 }], now: 1_600 }),
    attemptEvent({
      webhookId: 'msg_1',
      jobId: 'msg_1',
      attempt: 1,
      maxAttempts: 3,
      outcome: 'retrying',
      status: 500,
      durationMs: 12,
      failureReason: 'upstream_server_error',
      responseExcerpt: 'boom',
      now: 1_700,
    }),
    { type: 'retry_scheduled', at: 1_701, webhook_id: 'msg_1', job_id: 'msg_1', next_attempt_at: 6_701 },
  ];

  it('shows the arrival, detection, offload per link, masked target, its jobs and the pending retry', () => {
    const view = foldJourney('e1', events);
    expect(view.status).toBe('retrying');
    expect(view.received).toMatchObject({ source: 'gmail_push', subject: 'Facture', job_id: 'job-1' });
    expect(view.detection).toEqual({ detector: 'recadrage', delivery_time: '14h30', is_urgent: null });
    expect(view.window).toEqual({ reason: 'inside_window', send: true });
    expect(view.links[0]!.offload).toEqual({ outcome: 'failed', reason: 'source_timeout', detail: null });
    const t = view.targets[0]!;
    expect(t.target).toBe('https://hook.eu2.make.com/***');
    // The payload stays in the delivery job (the API reads it): the journey never copies a body.
    expect(t.payload).toBeNull();
    expect(t.job_ids).toEqual(['msg_1']);
    expect(t.next_attempt_at).toBe(new Date(6_701).toISOString());
    expect(JSON.stringify(view)).not.toContain('secret-token');
  });

  it('a delivered attempt clears the pending retry; a re-delivery is pending again, then delivered', () => {
    const more: JourneyEvent[] = [
      ...events,
      attemptEvent({
        webhookId: 'msg_1',
        jobId: 'msg_1',
        attempt: 2,
        maxAttempts: 3,
        outcome: 'delivered',
        status: 200,
        durationMs: 5,
        endToEndMs: 900,
        now: 7_000,
      }),
    ];
    expect(foldJourney('e1', more).status).toBe('delivered');
    expect(foldJourney('e1', more).targets[0]!.next_attempt_at).toBeNull();
    const redelivered: JourneyEvent[] = [
      ...more,
      { type: 'redelivered', at: 8_000, deliveries: [{ webhook_id: 'msg_1', job_id: 'msg_1.rx' }] },
    ];
    expect(foldJourney('e1', redelivered).status).toBe('in_progress');
    const done = [
      ...redelivered,
      attemptEvent({
        webhookId: 'msg_1',
        jobId: 'msg_1.rx',
        attempt: 1,
        maxAttempts: 8,
        outcome: 'delivered',
        status: 200,
        durationMs: 5,
        now: 9_000,
      }),
    ];
    const view = foldJourney('e1', done);
    expect(view.status).toBe('delivered');
    expect(view.targets[0]!.attempts.map((a) => a.redelivery)).toEqual([false, false, true]);
    expect(view.targets[0]!.job_ids).toEqual(['msg_1', 'msg_1.rx']);
  });

  it('a skipped email says why', () => {
    const view = foldJourney('e2', [
      receivedEvent({ jobId: undefined, acceptedAt: 1, source: undefined, subject: 's', sender: 'x', now: 2 }),
      skippedEvent({
        detection: { detector: 'recadrage', delivery_time: '9h' },
        reason: 'outside_time_window',
        detail: 'outside_window_recadrage',
        matches: undefined,
        now: 3,
      }),
    ]);
    expect(view.status).toBe('skipped');
    expect(view.received?.source).toBe('apps_script');
    expect(view.window).toEqual({ reason: 'outside_window_recadrage', send: false });
    expect(view.skip).toEqual({ reason: 'outside_time_window', detail: 'outside_window_recadrage', kind: 'skipped' });
  });
});

describe('summary and search', () => {
  const hash = (events: JourneyEvent[]) => {
    const out: Record<string, string> = {};
    for (const e of events)
      for (const [f, v] of summaryFields(e)) {
        if (f.startsWith('?')) out[f.slice(1)] ??= v;
        else out[f] = v;
      }
    return summaryHashSchema.parse(out);
  };
  const received = receivedEvent({
    jobId: 'j',
    acceptedAt: Date.parse('2026-11-30T10:00:00Z'),
    source: 'apps_script',
    subject: 'Équipe Média',
    sender: 'Bob <bob@example.org>',
    now: 0,
  });
  const item = listItem(
    'abc123',
    hash([
      received,
      plannedEvent({
        detection: { detector: 'recadrage' },
        windowVerdict: 'no_window',
        matches: [],
        stoppedBy: null,
        links: [],
        targets: [{ webhookId: 'w', url: target.url, origin: 'default', priority: 5 }],
        offloading: 0,
        now: 0,
      }),
    ]),
  );

  it('a planned target never overwrites a stored attempt (set when absent)', () => {
    const attempted = hash([
      received,
      attemptEvent({ webhookId: 'w', jobId: 'w', attempt: 1, maxAttempts: 1, outcome: 'delivered', status: 200, durationMs: 1, now: 0 }),
      plannedEvent({
        detection: { detector: null },
        windowVerdict: undefined,
        matches: [],
        stoppedBy: null,
        links: [],
        targets: [{ webhookId: 'w', url: target.url, origin: 'default', priority: 5 }],
        offloading: 0,
        now: 0,
      }),
    ]);
    expect(attempted.targets).toEqual({ w: 'delivered' });
  });

  it.each([
    [{ words: parseQueryWords('equipe') }, true],
    [{ words: parseQueryWords('MÉDIA bob') }, true],
    [{ words: parseQueryWords('abc1') }, true],
    [{ words: parseQueryWords('facture') }, false],
    [{ words: [], status: 'in_progress' as const }, true],
    [{ words: [], status: 'delivered' as const }, false],
    [{ words: [], detector: 'recadrage' }, true],
    [{ words: [], detector: 'none' }, false],
    [{ words: [], since: Date.parse('2026-11-30T00:00:00Z'), until: Date.parse('2026-11-30T23:59:59Z') }, true],
    [{ words: [], since: Date.parse('2026-12-01T00:00:00Z') }, false],
  ])('filter %j → %s', (filter, expected) => {
    expect(matchesFilter(item, filter)).toBe(expected);
  });

  it('drops summary fields that are not ours', () => {
    const parsed = summaryHashSchema.parse({ received_at: 'nope', 't:x': 'exploded', skip: 'maybe', source: 'fax' });
    expect(parsed).toMatchObject({ received_at: null, targets: {}, skip: null, source: null });
  });
});
