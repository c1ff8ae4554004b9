import { describe, expect, it } from '@jest/globals';
import { replayRequestSchema, targetIdOf } from '@render-signal/contracts';
import { replayView, resolveReplayRequest, shownRequest } from './replays';

const context = { rules: [{ id: 'r1', name: 'Client X' }], maxRatePerS: 100 };
const resolve = (body: unknown) => resolveReplayRequest(replayRequestSchema.parse(body), context);

describe('resolveReplayRequest', () => {
  it.each<[string, unknown, string]>([
    ['unknown status', { filter: { status: 'lost' } }, 'invalid_status'],
    ['inverted range', { filter: { since: '2026-12-02', until: '2026-12-01' } }, 'invalid_range'],
    ['not a date', { filter: { since: 'yesterday' } }, 'invalid_date'],
    ['rate 0', { rate_per_s: 0 }, 'invalid_rate'],
    ['negative rate', { rate_per_s: -1 }, 'invalid_rate'],
    ['rate above the limit', { rate_per_s: 101 }, 'rate_too_high'],
    ['a target that is neither URL nor id', { filter: { target: 'hook' } }, 'invalid_target'],
    ['unknown rule', { filter: { rule: 'Client Y' } }, 'unknown_rule'],
  ])('refuses %s', (_label, body, code) => {
    expect(resolve(body)).toMatchObject({ ok: false, status: 400, code });
  });

  it('resolves a URL to its target id, a rule name to its origin, dates to ms (until: the whole day), words folded', () => {
    expect(
      resolve({
        filter: {
          status: 'failed_attempts',
          target: 'https://a.example.org/h',
          rule: 'Client X',
          since: '2026-12-01',
          until: '2026-12-01',
          query: 'Équipe  X',
        },
        rate_per_s: 100,
      }),
    ).toEqual({
      ok: true,
      filter: {
        status: 'failed_attempts',
        target_id: targetIdOf('https://a.example.org/h'),
        origin: 'rule:r1',
        since: Date.parse('2026-12-01T00:00:00Z'),
        until: Date.parse('2026-12-02T00:00:00Z') - 1,
        words: ['equipe', 'x'],
      },
    });
    expect(resolve({ filter: { target: targetIdOf('https://a.example.org/h'), rule: 'r1' } })).toMatchObject({
      ok: true,
      filter: { status: 'dead_lettered', target_id: targetIdOf('https://a.example.org/h'), origin: 'rule:r1', words: [] },
    });
  });

  it('one target id per URL spelling of the same target; the shown request masks the URL', () => {
    expect(targetIdOf('HTTPS://A.example.org:443/h')).toBe(targetIdOf('https://a.example.org/h'));
    expect(targetIdOf('https://a.example.org/h')).toMatch(/^tgt_[0-9a-f]{12}$/);
    expect(shownRequest(replayRequestSchema.parse({ filter: { target: 'https://a.example.org/secret-token' } }))).toMatchObject({
      target: 'https://a.example.org/***',
    });
  });

  it('remaining counts what has no outcome yet', () => {
    const view = replayView({
      id: 'rp_x',
      who: 'w',
      created_at: 0,
      request: {},
      filter: { status: 'any', words: [] },
      payload: 'original',
      rate_per_s: 1,
      state: 'running',
      started_at: 0,
      finished_at: null,
      cursor: 5,
      walked: false,
      error: null,
      total: 10,
      sent: 5,
      delivered: 3,
      failed: 1,
      skipped: 1,
    });
    expect(view).toMatchObject({ remaining: 5, started_at: '1970-01-01T00:00:00.000Z', finished_at: null });
  });
});
