import { describe, expect, it } from '@jest/globals';
import {
  acceptsFastPath,
  afterAttempt,
  afterOperator,
  afterTick,
  jobDecision,
  newTargetHealth,
  successChanges,
  targetHealthSchema,
  targetIdOf,
  withProbe,
  type AttemptReport,
  type TargetHealth,
  type TargetHealthPolicy,
} from './target-health';

const policy: TargetHealthPolicy = {
  failingAfter: 3,
  pauseAfterMs: 20_000,
  probeIntervalMs: 5_000,
  probeMaxIntervalMs: 10_000,
  holdMaxMs: 60_000,
};
const T0 = 1_000_000;
const fail: AttemptReport = { ok: false, status: 503, reason: 'upstream_server_error', excerpt: 'maintenance' };
const ok: AttemptReport = { ok: true };
const fresh = () => newTargetHealth('abc', 'https://hook.example.com/***', T0);

/** Applies attempts in order (1 s apart). */
function run(record: TargetHealth, reports: AttemptReport[], start = T0) {
  const events: string[] = [];
  let current = record;
  reports.forEach((report, i) => {
    const next = afterAttempt(current, report, start + i * 1000, policy);
    if (next.event) events.push(next.event);
    current = next.record;
  });
  return { record: current, events };
}

describe('destination health policy', () => {
  it('target ids are stable and do not show the URL', () => {
    expect(targetIdOf('https://hook.eu2.make.com/secret-token')).toBe(targetIdOf('https://hook.eu2.make.com/secret-token'));
    expect(targetIdOf('https://hook.eu2.make.com/secret-token')).toMatch(/^tgt_[0-9a-f]{12}$/);
    expect(targetIdOf('https://a.example/')).not.toBe(targetIdOf('https://b.example/'));
  });

  it.each([
    ['fewer failures than TARGET_FAILING_AFTER stay healthy', [fail, fail], 'healthy', []],
    ['TARGET_FAILING_AFTER failures in a row: failing, one event', [fail, fail, fail, fail], 'failing', ['target.failing']],
    ['a success in between resets the count', [fail, fail, ok, fail, fail], 'healthy', []],
    [
      'a permanent 4xx (410) counts too',
      [{ ok: false, status: 410, reason: 'upstream_client_error' } as AttemptReport, fail, fail],
      'failing',
      ['target.failing'],
    ],
    ['failing then a success: recovering', [fail, fail, fail, ok], 'recovering', ['target.failing', 'target.recovered']],
  ] as const)('%s', (_name, reports, state, events) => {
    const result = run(fresh(), [...reports]);
    expect(result.record.state).toBe(state);
    expect(result.events).toEqual(events);
  });

  it('a failing target with no success for TARGET_PAUSE_AFTER is paused, by an attempt or by time', () => {
    const failing = run(fresh(), [fail, fail, fail]).record;
    expect(failing.failing_since).toBe(T0);
    expect(afterAttempt(failing, fail, T0 + 19_000, policy).record.state).toBe('failing');
    const byAttempt = afterAttempt(failing, fail, T0 + 20_000, policy);
    expect(byAttempt).toMatchObject({ event: 'target.paused', record: { state: 'paused', next_probe_at: T0 + 25_000 } });
    const byTime = afterTick(failing, { now: T0 + 20_000, held: 4 }, policy);
    expect(byTime.event).toBe('target.paused');
    expect(afterTick(failing, { now: T0 + 10_000, held: 4 }, policy).record).toBe(failing);
  });

  it('a template_error (the body was never sent) makes the target failing, never paused', () => {
    const template: AttemptReport = { ok: false, reason: 'template_error', excerpt: 'Expected ")"' };
    const failing = run(fresh(), [template, template, template]);
    expect(failing.events).toEqual(['target.failing']);
    expect(failing.record.failing_since).toBeUndefined();
    expect(afterAttempt(failing.record, template, T0 + 3_600_000, policy).record.state).toBe('failing');
    expect(afterTick(failing.record, { now: T0 + 3_600_000, held: 0 }, policy).record.state).toBe('failing');
    // A real failure starts the pause clock.
    const real = afterAttempt(failing.record, fail, T0 + 5_000, policy).record;
    expect(real.failing_since).toBe(T0 + 5_000);
    expect(afterTick(real, { now: T0 + 25_000, held: 1 }, policy).event).toBe('target.paused');
    // Recovering: template errors do not pause it again.
    const recovering = afterAttempt(failing.record, ok, T0 + 4_000, policy).record;
    expect(run(recovering, [template, template, template], T0 + 5_000).record.state).toBe('recovering');
  });

  it('probes once per interval, doubling while they fail, up to the max; a probe success recovers', () => {
    let record = afterTick(run(fresh(), [fail, fail, fail]).record, { now: T0 + 20_000, held: 3 }, policy).record;
    expect(afterTick(record, { now: T0 + 24_000, held: 3 }, policy).probe).toBeUndefined();
    expect(afterTick(record, { now: T0 + 25_000, held: 0 }, policy).probe).toBeUndefined(); // nothing held: nothing to send
    expect(afterTick(record, { now: T0 + 25_000, held: 3 }, policy).probe).toBe(true);
    record = withProbe(record, 'job-1', T0 + 25_000, policy);
    expect(record.next_probe_at).toBe(T0 + 30_000);
    // Another job's failure (a stale view) does not move the probe clock.
    expect(afterAttempt(record, { ...fail, jobId: 'job-9' }, T0 + 26_000, policy).record.next_probe_at).toBe(T0 + 30_000);
    record = afterAttempt(record, { ...fail, jobId: 'job-1' }, T0 + 26_000, policy).record;
    expect(record).toMatchObject({ state: 'paused', probe_interval_ms: 10_000, next_probe_at: T0 + 36_000 });
    expect(record.probe_job).toBeUndefined();
    record = withProbe(record, 'job-2', T0 + 36_000, policy);
    record = afterAttempt(record, { ...fail, jobId: 'job-2' }, T0 + 37_000, policy).record;
    expect(record.probe_interval_ms).toBe(10_000); // capped at TARGET_PROBE_MAX_INTERVAL
    const recovered = afterAttempt(withProbe(record, 'job-3', T0 + 47_000, policy), { ok: true, jobId: 'job-3' }, T0 + 48_000, policy);
    expect(recovered.event).toBe('target.recovered');
    expect(recovered.record).toMatchObject({ state: 'recovering', failures: 0, outage_since: T0 + 2_000 });
    expect(recovered.record.probe_job).toBeUndefined();
    // Healthy once nothing is held any more.
    expect(afterTick(recovered.record, { now: T0 + 49_000, held: 2 }, policy).record.state).toBe('recovering');
    const healthy = afterTick(recovered.record, { now: T0 + 50_000, held: 0 }, policy).record;
    expect(healthy.state).toBe('healthy');
    expect(healthy.outage_since).toBeUndefined();
  });

  it('an operator pause holds everything (no probe) until resumed; discard needs a paused target', () => {
    const paused = afterOperator(fresh(), 'pause', T0);
    expect(paused).toMatchObject({ event: 'target.paused', record: { state: 'paused', operator: true } });
    if (!('record' in paused)) throw new Error('refused');
    expect(afterTick(paused.record, { now: T0 + 3_600_000, held: 5 }, policy).probe).toBeUndefined();
    // A success seen while paused by an operator (a stale view) does not resume it.
    expect(afterAttempt(paused.record, ok, T0 + 1, policy).record.state).toBe('paused');
    expect(jobDecision(paused.record, { jobId: 'j', arrivedAt: T0, now: T0 + 1 }, policy)).toEqual({
      send: false,
      hold: true,
      untilMs: T0 + 60_000,
    });
    const discarded = afterOperator(paused.record, 'discard', T0 + 5);
    if (!('record' in discarded)) throw new Error('refused');
    expect(jobDecision(discarded.record, { jobId: 'j', arrivedAt: T0 + 5, now: T0 + 6 }, policy)).toMatchObject({
      reason: 'discarded_by_operator',
    });
    expect(jobDecision(discarded.record, { jobId: 'k', arrivedAt: T0 + 6, now: T0 + 7 }, policy)).toMatchObject({ hold: true });
    const resumed = afterOperator(discarded.record, 'resume', T0 + 10);
    expect(resumed).toMatchObject({ event: 'target.recovered', record: { state: 'recovering', operator: false } });
    if (!('record' in resumed)) throw new Error('refused');
    expect(resumed.record.discard_before).toBeUndefined();
    expect(afterOperator(fresh(), 'discard', T0)).toEqual({ refused: 'not_paused' });
    expect(afterOperator(fresh(), 'resume', T0)).toEqual({ record: fresh() });
  });

  it.each([
    ['no record', undefined, 'j', T0, { send: true }],
    ['healthy', fresh(), 'j', T0, { send: true }],
    ['failing: sent (attempts spent as usual)', { ...fresh(), state: 'failing' as const }, 'j', T0, { send: true }],
    [
      'paused: held until TARGET_HOLD_MAX',
      { ...fresh(), state: 'paused' as const },
      'j',
      T0,
      { send: false, hold: true, untilMs: T0 + 60_000 },
    ],
    ['paused, the probe: sent', { ...fresh(), state: 'paused' as const, probe_job: 'j' }, 'j', T0, { send: true }],
    [
      'paused past TARGET_HOLD_MAX: dead letter',
      { ...fresh(), state: 'paused' as const },
      'j',
      T0 - 60_000,
      { send: false, hold: false, reason: 'target_paused_too_long' },
    ],
  ])('job decision: %s', (_name, record, jobId, arrivedAt, expected) => {
    expect(jobDecision(record, { jobId, arrivedAt, now: T0 }, policy)).toEqual(expected);
  });

  it('the healthy path: fast path allowed and a success writes nothing', () => {
    expect(acceptsFastPath(undefined)).toBe(true);
    expect(acceptsFastPath(fresh())).toBe(true);
    expect(acceptsFastPath({ ...fresh(), state: 'failing' })).toBe(false);
    expect(successChanges(undefined)).toBe(false);
    expect(successChanges(fresh())).toBe(false);
    expect(successChanges({ ...fresh(), failures: 1 })).toBe(true);
    expect(successChanges({ ...fresh(), state: 'recovering' })).toBe(true);
  });

  it('records validate against their schema', () => {
    const record = run(fresh(), [fail, fail, fail]).record;
    expect(targetHealthSchema.parse(JSON.parse(JSON.stringify(record)))).toEqual(record);
    expect(record.last_error).toEqual({ status: 503, reason: 'upstream_server_error', excerpt: 'maintenance' });
  });
});
