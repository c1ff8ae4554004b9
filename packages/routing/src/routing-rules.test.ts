import { describe, expect, it } from '@jest/globals';
import { normalizeRules, RULE_MESSAGES, routingRulesDocumentSchema } from './routing-rules';

const cond = (overrides: Record<string, unknown> = {}) => ({
  field: 'subject',
  operator: 'contains',
  value: 'lot',
  case_sensitive: false,
  ...overrides,
});
const rule = (overrides: Record<string, unknown> = {}) => ({
  id: 'r1',
  name: 'Lots',
  conditions: [cond()],
  actions: { webhook_url: 'https://hook.eu2.make.com/abc', priority: 'normal', stop_processing: false },
  ...overrides,
});
const ok = (input: unknown) => {
  const result = normalizeRules(input);
  if (!result.ok) throw new Error(`expected ok, got ${result.message}`);
  return result.rules;
};

describe('normalizeRules: the original documents load unchanged', () => {
  it('normalises an original rule and adds our defaults', () => {
    expect(ok([rule()])).toEqual([
      {
        id: 'r1',
        name: 'Lots',
        enabled: true,
        match: 'all',
        conditions: [{ field: 'subject', operator: 'contains', value: 'lot', case_sensitive: false }],
        actions: { webhook_url: 'https://hook.eu2.make.com/abc', priority: 'normal', stop_processing: false },
      },
    ]);
  });

  it('accepts an empty list', () => {
    expect(ok([])).toEqual([]);
  });

  it('loads a stored document with _updated_at', () => {
    const document = routingRulesDocumentSchema.parse({ rules: [rule()], _updated_at: '2025-10-01T09:00:00+00:00' });
    expect(document).toMatchObject({ _updated_at: '2025-10-01T09:00:00+00:00', _revision: 0 });
    expect(document.rules[0]?.id).toBe('r1');
    expect(routingRulesDocumentSchema.parse({})).toEqual({ rules: [], _updated_at: null, _revision: 0 });
    expect(routingRulesDocumentSchema.safeParse({ rules: 'nope' }).success).toBe(false);
    // Loading does not refuse a stored placeholder target (an old document must still load).
    expect(routingRulesDocumentSchema.parse({ rules: [rule({ actions: { webhook_url: 'https://example.com/x' } })] }).rules).toHaveLength(
      1,
    );
  });
});

describe('normalizeRules: ids and names', () => {
  it.each<[string, unknown[], string[]]>([
    ['default ids', [rule({ id: undefined }), rule({ id: '' }), rule({ id: '   ' })], ['rule-1', 'rule-2', 'rule-3']],
    ['trimmed', [rule({ id: '  a  ' })], ['a']],
    ['duplicates suffixed with the position [VERIFIED]', [rule({ id: 'r' }), rule({ id: 'r' }), rule({ id: 'r' })], ['r', 'r-2', 'r-3']],
    ['suffix collision is suffixed again', [rule({ id: 'r' }), rule({ id: 'r' }), rule({ id: 'r-2' })], ['r', 'r-2', 'r-2-3']],
    ['numeric id', [rule({ id: 7 })], ['7']],
    ['duplicate of a default id', [rule({ id: undefined }), rule({ id: 'rule-1' })], ['rule-1', 'rule-1-2']],
  ])('%s', (_case, input, ids) => {
    expect(ok(input).map((r) => r.id)).toEqual(ids);
  });

  it('names default to "Rule n" and are trimmed', () => {
    expect(ok([rule({ name: undefined }), rule({ id: 'b', name: ' Two ' })]).map((r) => r.name)).toEqual(['Rule 1', 'Two']);
  });
});

describe('normalizeRules: conditions', () => {
  it.each([
    [
      'field and operator lower-cased and trimmed',
      cond({ field: ' SUBJECT ', operator: 'Contains' }),
      { field: 'subject', operator: 'contains' },
    ],
    ['value trimmed', cond({ value: '  lot 4  ' }), { value: 'lot 4' }],
    ['bool(case_sensitive): "false" is true', cond({ case_sensitive: 'false' }), { case_sensitive: true }],
    ['case_sensitive absent → false', cond({ case_sensitive: undefined }), { case_sensitive: false }],
    ['numeric value', cond({ value: 42 }), { value: '42' }],
    ...['sender', 'subject', 'body', 'to', 'cc', 'snippet', 'detector'].map(
      (field) => [`field ${field}`, cond({ field }), { field }] as const,
    ),
    ...[
      'contains',
      'equals',
      'regex',
      'starts_with',
      'ends_with',
      'not_contains',
      'not_equals',
      'not_regex',
      'not_starts_with',
      'not_ends_with',
    ].map((operator) => [`operator ${operator}`, cond({ operator }), { operator }] as const),
    ['RE2 regex', cond({ operator: 'regex', value: '^m[ée]dia\\s+solution.*\\blot\\b' }), { operator: 'regex' }],
    ['200-character regex', cond({ operator: 'regex', value: 'a'.repeat(200) }), { operator: 'regex' }],
  ])('%s', (_case, condition, expected) => {
    expect(ok([rule({ conditions: [condition] })])[0]?.conditions[0]).toMatchObject(expected);
  });
});

describe('normalizeRules: validation messages (any error rejects the whole batch)', () => {
  it.each<[string, unknown, string, string]>([
    ['not a list', { rules: [] }, RULE_MESSAGES.notAList, 'rules'],
    ['null', null, RULE_MESSAGES.notAList, 'rules'],
    ['rule not an object', [rule(), 'x'], RULE_MESSAGES.ruleNotObject, 'rules[1]'],
    ['rule is an array', [[]], RULE_MESSAGES.ruleNotObject, 'rules[0]'],
    ['blank name', [rule({ name: '   ' })], RULE_MESSAGES.nameRequired, 'rules[0].name'],
    ['no conditions', [rule({ conditions: [] })], RULE_MESSAGES.conditionsRequired, 'rules[0].conditions'],
    ['conditions not a list', [rule({ conditions: cond() })], RULE_MESSAGES.conditionsRequired, 'rules[0].conditions'],
    ['condition not an object', [rule({ conditions: ['subject'] })], RULE_MESSAGES.conditionNotObject, 'rules[0].conditions[0]'],
    ['bad field', [rule({ conditions: [cond({ field: 'from' })] })], RULE_MESSAGES.invalidField, 'rules[0].conditions[0].field'],
    ['missing field', [rule({ conditions: [cond({ field: undefined })] })], RULE_MESSAGES.invalidField, 'rules[0].conditions[0].field'],
    [
      'bad operator',
      [rule({ conditions: [cond({ operator: 'like' })] })],
      RULE_MESSAGES.invalidOperator,
      'rules[0].conditions[0].operator',
    ],
    ['empty value', [rule({ conditions: [cond({ value: '  ' })] })], RULE_MESSAGES.valueRequired, 'rules[0].conditions[0].value'],
    [
      'regex too long',
      [rule({ conditions: [cond({ operator: 'regex', value: 'a'.repeat(201) })] })],
      RULE_MESSAGES.invalidRegex,
      'rules[0].conditions[0].value',
    ],
    [
      'regex does not compile',
      [rule({ conditions: [cond({ operator: 'regex', value: '(unclosed' })] })],
      RULE_MESSAGES.invalidRegex,
      'rules[0].conditions[0].value',
    ],
    [
      'look-ahead is not RE2',
      [rule({ conditions: [cond({ operator: 'not_regex', value: 'a(?=b)' })] })],
      RULE_MESSAGES.invalidRegex,
      'rules[0].conditions[0].value',
    ],
    [
      'backreference is not RE2',
      [rule({ conditions: [cond({ operator: 'regex', value: '(a)\\1' })] })],
      RULE_MESSAGES.invalidRegex,
      'rules[0].conditions[0].value',
    ],
    ['actions not an object', [rule({ actions: 'https://x.io' })], RULE_MESSAGES.actionsNotObject, 'rules[0].actions'],
    ['webhook_url missing', [rule({ actions: { priority: 'high' } })], RULE_MESSAGES.webhookUrlRequired, 'rules[0].actions.webhook_url'],
    ['webhook_url blank', [rule({ actions: { webhook_url: '  ' } })], RULE_MESSAGES.webhookUrlRequired, 'rules[0].actions.webhook_url'],
    ['webhook_url not a string', [rule({ actions: { webhook_url: 5 } })], RULE_MESSAGES.webhookUrlRequired, 'rules[0].actions.webhook_url'],
    [
      'http URL',
      [rule({ actions: { webhook_url: 'http://hook.eu2.make.com/x' } })],
      RULE_MESSAGES.webhookUrlNotHttps,
      'rules[0].actions.webhook_url',
    ],
    [
      'unrecognised shorthand',
      [rule({ actions: { webhook_url: 'a b' } })],
      RULE_MESSAGES.webhookUrlNotHttps,
      'rules[0].actions.webhook_url',
    ],
    [
      'placeholder host',
      [rule({ actions: { webhook_url: 'https://example.com/hook' } })],
      RULE_MESSAGES.webhookUrlPlaceholder,
      'rules[0].actions.webhook_url',
    ],
    [
      'bad priority',
      [rule({ actions: { webhook_url: 'https://x.io/h', priority: 'urgent' } })],
      RULE_MESSAGES.invalidPriority,
      'rules[0].actions.priority',
    ],
    ['bad match', [rule({ match: 'some' })], RULE_MESSAGES.invalidMatch, 'rules[0].match'],
    ['enabled not a boolean', [rule({ enabled: 'false' })], RULE_MESSAGES.invalidEnabled, 'rules[0].enabled'],
  ])('%s', (_case, input, message, path) => {
    const result = normalizeRules(input);
    expect(result).toMatchObject({ ok: false, message });
    if (!result.ok) expect(result.errors[0]).toEqual({ path, message });
  });

  it('reports every error, the first one as the message', () => {
    const result = normalizeRules([rule(), rule({ conditions: [cond({ field: 'x', operator: 'y' })], actions: { webhook_url: '' } })]);
    expect(result).toEqual({
      ok: false,
      message: RULE_MESSAGES.invalidField,
      errors: [
        { path: 'rules[1].conditions[0].field', message: RULE_MESSAGES.invalidField },
        { path: 'rules[1].conditions[0].operator', message: RULE_MESSAGES.invalidOperator },
        { path: 'rules[1].actions.webhook_url', message: RULE_MESSAGES.webhookUrlRequired },
      ],
    });
  });
});

describe('normalizeRules: actions', () => {
  it.each([
    ['Make token alias', { webhook_url: 'tok@hook.eu2.make.com' }, { webhook_url: 'https://hook.eu2.make.com/tok' }],
    ['bare Make token', { webhook_url: 'tok' }, { webhook_url: 'https://hook.eu2.make.com/tok' }],
    ['priority defaults to normal', { webhook_url: 'https://x.io/h', priority: '' }, { priority: 'normal' }],
    ['priority lower-cased', { webhook_url: 'https://x.io/h', priority: ' HIGH ' }, { priority: 'high' }],
    ['bool(stop_processing)', { webhook_url: 'https://x.io/h', stop_processing: 1 }, { stop_processing: true }],
    ['stop_processing absent → false', { webhook_url: 'https://x.io/h' }, { stop_processing: false }],
  ])('%s', (_case, actions, expected) => {
    expect(ok([rule({ actions })])[0]?.actions).toMatchObject(expected);
  });

  it('match and enabled', () => {
    expect(ok([rule({ match: ' ANY ', enabled: false })])[0]).toMatchObject({ match: 'any', enabled: false });
  });

  it('private networking allows http and loopback sinks; placeholder refusal can be turned off', () => {
    const local = [rule({ actions: { webhook_url: 'http://127.0.0.1:8080/sink' } })];
    expect(normalizeRules(local).ok).toBe(false);
    expect(normalizeRules(local, { allowPrivateNetwork: true }).ok).toBe(true);
    expect(normalizeRules([rule({ actions: { webhook_url: 'https://example.com/x' } })], { refusePlaceholderUrls: false }).ok).toBe(true);
  });
});
