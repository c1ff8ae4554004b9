import { describe, expect, it } from '@jest/globals';
import { evaluateCondition, evaluateRules, type RoutableEmail, routeEmail } from './route-email';
import { normalizeRules, type RoutingCondition, type RoutingRule } from './routing-rules';

const EMAIL: RoutableEmail = {
  sender: 'Média Solution <Planning@Media-Solution.FR>',
  subject: 'Média Solution - Missions Recadrage - Lot 42',
  body: '<p>Bonjour, à faire pour 10h</p> https://www.dropbox.com/scl/fo/x',
  to: 'Ops <ops@acme.io>, team@acme.io',
  cc: 'boss@acme.io',
  snippet: 'Bonjour, à faire pour 10h',
};

const condition = (field: string, operator: string, value: string, case_sensitive = false) =>
  ({ field, operator, value, case_sensitive }) as RoutingCondition;

describe('evaluateCondition: operators', () => {
  it.each<[string, RoutingCondition, boolean]>([
    ['contains, case-insensitive', condition('subject', 'contains', 'missions RECADRAGE'), true],
    ['contains, case-sensitive', condition('subject', 'contains', 'missions RECADRAGE', true), false],
    ['contains, absent', condition('subject', 'contains', 'facture'), false],
    ['equals on the bare sender address', condition('sender', 'equals', 'planning@media-solution.fr'), true],
    ['equals is case-insensitive by default', condition('sender', 'equals', 'PLANNING@MEDIA-SOLUTION.FR'), true],
    ['equals, case-sensitive against the lower-cased address', condition('sender', 'equals', 'Planning@Media-Solution.FR', true), false],
    ['equals does not see the display name', condition('sender', 'contains', 'Média'), false],
    ['equals needs the whole text', condition('subject', 'equals', 'Média Solution'), false],
    ['starts_with', condition('subject', 'starts_with', 'média solution'), true],
    ['starts_with, case-sensitive miss', condition('subject', 'starts_with', 'média', true), false],
    ['ends_with', condition('sender', 'ends_with', '@media-solution.fr'), true],
    ['ends_with miss', condition('subject', 'ends_with', 'lot'), false],
    ['regex search (not anchored)', condition('subject', 'regex', 'recadrage.*lot\\s+\\d+'), true],
    ['regex, case-insensitive by default', condition('subject', 'regex', 'M[ÉE]DIA'), true],
    ['regex, case-sensitive', condition('subject', 'regex', 'M[ÉE]DIA', true), false],
    ['regex anchors', condition('sender', 'regex', '^(planning|ops)@media-solution\\.fr$'), true],
    ['regex on the raw HTML body', condition('body', 'regex', '<p>.*10h</p>'), true],
    ['not_contains', condition('subject', 'not_contains', 'facture'), true],
    ['not_contains miss', condition('subject', 'not_contains', 'lot'), false],
    ['not_equals', condition('sender', 'not_equals', 'x@y.z'), true],
    ['not_regex', condition('subject', 'not_regex', 'urgent'), true],
    ['not_regex miss', condition('subject', 'not_regex', 'lot \\d+'), false],
    ['not_starts_with', condition('subject', 'not_starts_with', 'Re:'), true],
    ['not_ends_with', condition('subject', 'not_ends_with', '42'), false],
    ['to', condition('to', 'contains', 'team@acme.io'), true],
    ['cc', condition('cc', 'equals', 'boss@acme.io'), true],
    ['snippet', condition('snippet', 'starts_with', 'bonjour'), true],
    ['empty value never matches', condition('subject', 'contains', ''), false],
    ['invalid regex never matches, even negated', condition('subject', 'not_regex', '(unclosed'), false],
  ])('%s', (_case, cond, expected) => {
    expect(evaluateCondition(cond, EMAIL)).toBe(expected);
  });

  it('missing optional fields read as empty text', () => {
    const bare: RoutableEmail = { sender: 'a@b.c', body: 'x' };
    expect(evaluateCondition(condition('subject', 'equals', 'x'), bare)).toBe(false);
    expect(evaluateCondition(condition('cc', 'not_contains', 'x'), bare)).toBe(true);
    expect(evaluateCondition(condition('to', 'contains', 'a'), bare)).toBe(false);
  });

  it('detector field compares the detection', () => {
    const cond = condition('detector', 'equals', 'recadrage');
    expect(evaluateCondition(cond, EMAIL, { detector: 'recadrage', delivery_time: '10h00' })).toBe(true);
    expect(evaluateCondition(cond, EMAIL, { detector: null })).toBe(false);
    expect(evaluateCondition(cond, EMAIL)).toBe(false);
  });

  it('runs in linear time on a catastrophic-backtracking pattern', () => {
    const cond = condition('body', 'regex', '^(a+)+$');
    const started = performance.now();
    expect(evaluateCondition(cond, { sender: 'a@b.c', body: `${'a'.repeat(50_000)}!` })).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

function rules(input: unknown[]): RoutingRule[] {
  const result = normalizeRules(input);
  if (!result.ok) throw new Error(result.message);
  return result.rules;
}

const rule = (id: string, conditions: unknown[], actions: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id,
  name: `Rule ${id}`,
  conditions,
  actions,
  ...extra,
});
const subjectHas = (value: string) => ({ field: 'subject', operator: 'contains', value });
const DEFAULT = 'https://hook.eu2.make.com/default';

describe('evaluateRules', () => {
  it.each<[string, Record<string, unknown>, boolean]>([
    ['all: every condition must hold', { match: 'all', conditions: [subjectHas('lot'), subjectHas('facture')] }, false],
    ['all: all hold', { conditions: [subjectHas('lot'), subjectHas('média')] }, true],
    ['any: one is enough', { match: 'any', conditions: [subjectHas('facture'), subjectHas('lot')] }, true],
    ['any: none holds', { match: 'any', conditions: [subjectHas('facture'), subjectHas('devis')] }, false],
    ['disabled rules never match', { enabled: false, conditions: [subjectHas('lot')] }, false],
  ])('%s', (_case, extra, matched) => {
    const [evaluation] = evaluateRules(rules([rule('r', [], { webhook_url: 'https://x.io/a' }, extra)]), EMAIL);
    expect(evaluation?.matched).toBe(matched);
    expect(evaluation?.conditions).toHaveLength((extra.conditions as unknown[]).length);
  });
});

describe('routeEmail', () => {
  const A = 'https://hook.eu2.make.com/a';
  const B = 'https://hook.eu2.make.com/b';

  it.each<[string, unknown[], string | null, Array<[string, string, string]>, string | null]>([
    ['no rules → default only', [], DEFAULT, [[DEFAULT, 'default', 'normal']], null],
    ['no rules, no default → nothing', [], null, [], null],
    ['no match → default only', [rule('r1', [subjectHas('facture')], { webhook_url: A })], DEFAULT, [[DEFAULT, 'default', 'normal']], null],
    [
      'match without stop → rule target + default',
      [rule('r1', [subjectHas('lot')], { webhook_url: A })],
      DEFAULT,
      [
        [A, 'rule:r1', 'normal'],
        [DEFAULT, 'default', 'normal'],
      ],
      null,
    ],
    [
      'match with stop → rule target only',
      [rule('r1', [subjectHas('lot')], { webhook_url: A, stop_processing: true, priority: 'high' })],
      DEFAULT,
      [[A, 'rule:r1', 'high']],
      'r1',
    ],
    [
      'every matching rule adds its target, in order',
      [rule('r1', [subjectHas('lot')], { webhook_url: A }), rule('r2', [subjectHas('média')], { webhook_url: B })],
      DEFAULT,
      [
        [A, 'rule:r1', 'normal'],
        [B, 'rule:r2', 'normal'],
        [DEFAULT, 'default', 'normal'],
      ],
      null,
    ],
    [
      'stop ends evaluation: later matching rules are not applied',
      [rule('r1', [subjectHas('lot')], { webhook_url: A, stop_processing: true }), rule('r2', [subjectHas('lot')], { webhook_url: B })],
      DEFAULT,
      [[A, 'rule:r1', 'normal']],
      'r1',
    ],
    [
      'a stop on a non-matching rule does nothing',
      [rule('r1', [subjectHas('facture')], { webhook_url: A, stop_processing: true }), rule('r2', [subjectHas('lot')], { webhook_url: B })],
      DEFAULT,
      [
        [B, 'rule:r2', 'normal'],
        [DEFAULT, 'default', 'normal'],
      ],
      null,
    ],
    [
      'the default receives the email once when a rule targets it',
      [rule('r1', [subjectHas('lot')], { webhook_url: DEFAULT })],
      DEFAULT,
      [[DEFAULT, 'rule:r1', 'normal']],
      null,
    ],
    [
      'two rules with the same URL: one delivery (first rule wins)',
      [rule('r1', [subjectHas('lot')], { webhook_url: A }), rule('r2', [subjectHas('lot')], { webhook_url: A, priority: 'high' })],
      null,
      [[A, 'rule:r1', 'normal']],
      null,
    ],
    [
      'disabled rule is skipped',
      [rule('r1', [subjectHas('lot')], { webhook_url: A, stop_processing: true }, { enabled: false })],
      DEFAULT,
      [[DEFAULT, 'default', 'normal']],
      null,
    ],
  ])('%s', (_case, input, defaultTarget, expected, stoppedBy) => {
    const decision = routeEmail({ email: EMAIL, rules: rules(input), defaultTarget });
    expect(decision.targets.map((t) => [t.url, t.origin, t.priority])).toEqual(expected);
    expect(decision.stopped_by).toBe(stoppedBy);
    expect(decision.matches).toHaveLength(input.length);
  });

  it('rule targets carry the rule (for the payload routing_rule); the default does not', () => {
    const decision = routeEmail({
      email: EMAIL,
      rules: rules([rule('vip', [subjectHas('lot')], { webhook_url: A, priority: 'high' })]),
      defaultTarget: DEFAULT,
    });
    expect(decision.targets).toEqual([
      { url: A, origin: 'rule:vip', priority: 'high', rule: { id: 'vip', name: 'Rule vip', priority: 'high' } },
      { url: DEFAULT, origin: 'default', priority: 'normal' },
    ]);
  });

  it('reports reached/applied for every rule', () => {
    const decision = routeEmail({
      email: EMAIL,
      rules: rules([
        rule('r1', [subjectHas('facture')], { webhook_url: A }),
        rule('r2', [subjectHas('lot')], { webhook_url: A, stop_processing: true }),
        rule('r3', [subjectHas('lot')], { webhook_url: B }),
      ]),
      defaultTarget: DEFAULT,
    });
    expect(decision.matches.map(({ id, matched, reached, applied }) => ({ id, matched, reached, applied }))).toEqual([
      { id: 'r1', matched: false, reached: true, applied: false },
      { id: 'r2', matched: true, reached: true, applied: true },
      { id: 'r3', matched: true, reached: false, applied: false },
    ]);
  });

  it('applies the original rule shapes (sender regex from the backend fallbacks)', () => {
    const original = [
      {
        id: 'backend-recadrage',
        name: 'Recadrage',
        conditions: [
          { field: 'sender', operator: 'regex', value: '^(planning@media-solution\\.fr|x@y\\.z)$', case_sensitive: false },
          { field: 'subject', operator: 'regex', value: 'm[ée]dia solution.*missions recadrage.*\\blot\\b', case_sensitive: false },
          {
            field: 'body',
            operator: 'regex',
            value: '(dropbox\\.com/scl/fo|fromsmash\\.com/|swisstransfer\\.com/d/)',
            case_sensitive: false,
          },
        ],
        actions: { webhook_url: A, priority: 'normal', stop_processing: true },
      },
    ];
    expect(routeEmail({ email: EMAIL, rules: rules(original), defaultTarget: DEFAULT }).targets.map((t) => t.url)).toEqual([A]);
  });
});

describe('scan limit: conditions read a bounded window of each field', () => {
  const LIMIT = 1024;
  const long: RoutableEmail = {
    sender: 'a@b.c',
    subject: 'Head of the subject',
    body: `Start of BODY ${'x'.repeat(2 * LIMIT)} needle@example.com tail-marker END`,
  };
  it.each<[string, RoutingCondition, boolean, boolean]>([
    // [case, condition, unbounded, with the limit]
    ['contains past the limit is not seen', condition('body', 'contains', 'needle@example.com'), true, false],
    ['regex past the limit is not seen', condition('body', 'regex', '\\w{1,50}@\\w{1,50}\\.com'), true, false],
    ['not_contains past the limit holds', condition('body', 'not_contains', 'needle'), false, true],
    ['contains inside the window is seen', condition('body', 'contains', 'start of body'), true, true],
    ['regex inside the window is seen', condition('body', 'regex', '^Start of BODY x+'), true, true],
    ['starts_with reads the head', condition('body', 'starts_with', 'start of'), true, true],
    ['ends_with reads the true end of the field', condition('body', 'ends_with', 'marker end'), true, true],
    ['ends_with, case-sensitive', condition('body', 'ends_with', 'marker end', true), false, false],
    ['equals never holds for a field longer than the limit', condition('body', 'equals', long.body), true, false],
    ['short fields are read whole', condition('subject', 'equals', 'head of the subject'), true, true],
  ])('%s', (_case, cond, unbounded, limited) => {
    expect(evaluateCondition(cond, long)).toBe(unbounded);
    expect(evaluateCondition(cond, long, undefined, { scanLimit: LIMIT })).toBe(limited);
  });

  it('routeEmail passes the limit to every rule', () => {
    const normalised = normalizeRules(
      [
        {
          name: 'deep',
          conditions: [condition('body', 'contains', 'needle')],
          actions: { webhook_url: 'https://hooks.render-signal.test/deep' },
        },
      ],
      { refusePlaceholderUrls: false },
    );
    if (!normalised.ok) throw new Error(normalised.message);
    const route = (scanLimit?: number) =>
      routeEmail({ email: long, rules: normalised.rules, defaultTarget: null, ...(scanLimit ? { scanLimit } : {}) }).targets.length;
    expect(route()).toBe(1);
    expect(route(LIMIT)).toBe(0);
  });

  it('a 5 MB body with heavy regexes is matched in bounded time', () => {
    const body = 'lorem ipsum dolor sit amet 12345 '.repeat(160_000);
    const heavy = ['\\w{1,50}@\\w{1,50}\\.com', '[a-z]{1,100}[0-9]{1,100}x'].map((value) => condition('body', 'regex', value));
    const time = (scanLimit?: number) => {
      const started = performance.now();
      for (const cond of heavy) evaluateCondition(cond, { sender: 'a@b.c', body }, undefined, scanLimit ? { scanLimit } : {});
      return performance.now() - started;
    };
    time(256 * 1024); // compile and warm up
    const whole = time();
    const bounded = time(256 * 1024);
    // The window is 1/20 of the body: a generous factor keeps this robust on a loaded machine.
    expect(bounded).toBeLessThan(whole / 3);
  });
});
