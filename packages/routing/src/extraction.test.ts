import { describe, expect, it } from '@jest/globals';
import { type RoutableEmail, routeEmail } from './route-email';
import { normalizeRules } from './routing-rules';

const EMAIL: RoutableEmail = {
  sender: 'Compta <compta@client.fr>',
  subject: 'Votre FACTURE 2026 - dossier AB-12',
  body: 'Réf. client: C-998 https://www.dropbox.com/scl/fo/x',
};

const rules = (list: unknown[]) => {
  const result = normalizeRules(list);
  if (!result.ok) throw new Error(result.message);
  return result.rules;
};
const rule = (id: string, conditions: unknown[], { actions, ...extra }: Record<string, unknown> = {}) => ({
  id,
  name: id,
  conditions,
  actions: { webhook_url: `https://hook.eu2.make.com/${id}`, ...((actions as object) ?? {}) },
  ...extra,
});
const regex = (value: string, field = 'subject') => ({ field, operator: 'regex', value });

describe('extraction: named groups of regex conditions and extract entries', () => {
  it.each<[string, unknown[], Record<string, string>]>([
    ['a condition group (?<name>)', [rule('a', [regex('facture\\s+(?<numero>\\d{4})')])], { numero: '2026' }],
    ['the Python spelling (?P<name>)', [rule('a', [regex('facture\\s+(?P<numero>\\d{4})')])], { numero: '2026' }],
    ['case kept from the email (case-insensitive match)', [rule('a', [regex('(?<mot>facture)')])], { mot: 'FACTURE' }],
    [
      'extract entries do not decide the match and read their own field',
      [
        rule('a', [{ field: 'subject', operator: 'contains', value: 'facture' }], {
          extract: [
            { field: 'body', regex: 'client:\\s*(?<client>[A-Z]-\\d+)' },
            { field: 'subject', regex: 'dossier (?<dossier>[A-Z]{2}-\\d+)' },
            { field: 'body', regex: 'absent (?<jamais>\\d+)' },
          ],
        }),
      ],
      { client: 'C-998', dossier: 'AB-12' },
    ],
    ['a regex without groups extracts nothing', [rule('a', [regex('facture')])], {}],
    [
      'a rule not applied extracts nothing',
      [rule('a', [regex('(?<numero>\\d{4})')], { enabled: false }), rule('b', [regex('dossier (?<dossier>\\S+)')])],
      { dossier: 'AB-12' },
    ],
    [
      'a condition that did not match (match any) extracts nothing',
      [rule('a', [regex('devis (?<devis>\\d+)'), regex('facture (?<numero>\\d+)')], { match: 'any' })],
      { numero: '2026' },
    ],
  ])('%s', (_name, list, expected) => {
    expect(routeEmail({ email: EMAIL, rules: rules(list), defaultTarget: null }).extracted).toEqual(expected);
  });

  it('the first applied rule wins a name, and the clash is reported', () => {
    const decision = routeEmail({
      email: EMAIL,
      rules: rules([
        rule('first', [regex('(?<numero>\\d{4})')]),
        rule('second', [regex('dossier (?<numero>[A-Z]{2})')], { extract: [{ field: 'body', regex: '(?<client>C-\\d+)' }] }),
      ]),
      defaultTarget: null,
    });
    expect(decision.extracted).toEqual({ numero: '2026', client: 'C-998' });
    expect(decision.extract_conflicts).toEqual([{ name: 'numero', kept_from: 'first', ignored_from: 'second' }]);
    expect(decision.matches.map((m) => m.extracted)).toEqual([{ numero: '2026' }, { numero: 'AB', client: 'C-998' }]);
  });

  it('carries each target payload setting', () => {
    const decision = routeEmail({
      email: EMAIL,
      rules: rules([rule('a', [regex('facture')], { actions: { payload: { format: 'flat' } } })]),
      defaultTarget: 'https://hook.eu2.make.com/default',
      defaultPayload: { format: 'template', template: '{ "a": subject }' },
    });
    expect(decision.targets.map((t) => [t.origin, t.payload])).toEqual([
      ['rule:a', { format: 'flat' }],
      ['default', { format: 'template', template: '{ "a": subject }' }],
    ]);
  });
});

describe('extraction: refused when saved', () => {
  it.each<[string, Record<string, unknown>, string, string]>([
    [
      'a group name that is not an identifier',
      { conditions: [regex('(?<1abc>\\d+)')] },
      'rules[0].conditions[0].value',
      'invalid_extract_name',
    ],
    ['a name twice in one regex', { conditions: [regex('(?<n>a)(?<n>b)')] }, 'rules[0].conditions[0].value', 'duplicate_group_name'],
    [
      'a name in a condition and an extract entry',
      { conditions: [regex('(?<n>a)')], extract: [{ field: 'body', regex: '(?<n>b)' }] },
      'rules[0].extract[0].regex',
      'duplicate_group_name',
    ],
    ['an extract entry without a group', { extract: [{ field: 'body', regex: 'abc' }] }, 'rules[0].extract[0].regex', 'no_named_group'],
    ['an extract entry that is no RE2', { extract: [{ field: 'body', regex: '(?<n>a' }] }, 'rules[0].extract[0].regex', 'invalid_regex'],
    ['an extract entry on an unknown field', { extract: [{ field: 'x', regex: '(?<n>a)' }] }, 'rules[0].extract[0].field', 'invalid_field'],
    ['extract not a list', { extract: 'abc' }, 'rules[0].extract', 'invalid_extract'],
    [
      'a template with a syntax error',
      { actions: { webhook_url: 'https://hook.eu2.make.com/x', payload: { format: 'template', template: '{ "a": }' } } },
      'rules[0].actions.payload.template',
      'template_syntax',
    ],
    [
      'a template over 10 KB',
      {
        actions: {
          webhook_url: 'https://hook.eu2.make.com/x',
          payload: { format: 'template', template: `{"a": "${'x'.repeat(10_240)}"}` },
        },
      },
      'rules[0].actions.payload.template',
      'template_too_large',
    ],
    [
      'an unknown format',
      { actions: { webhook_url: 'https://hook.eu2.make.com/x', payload: { format: 'xml' } } },
      'rules[0].actions.payload.format',
      'invalid_payload_format',
    ],
  ])('%s', (_name, overrides, path, code) => {
    const result = normalizeRules([{ ...rule('a', [{ field: 'subject', operator: 'contains', value: 'x' }]), ...overrides }]);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors).toContainEqual(expect.objectContaining({ path, code }));
  });

  it('a template syntax error gives its position', () => {
    const result = normalizeRules([
      rule('a', [regex('x')], {
        actions: { webhook_url: 'https://hook.eu2.make.com/x', payload: { format: 'template', template: '{ "a": foo. }' } },
      }),
    ]);
    expect(result.ok ? null : result.errors[0]).toMatchObject({ position: 13, message: expect.stringContaining('position 13') });
  });

  it('keeps extract and payload on a saved rule; a rule without them is stored as before', () => {
    const [withBoth, plain] = rules([
      rule('a', [regex('(?<n>\\d)')], {
        extract: [{ field: 'body', regex: '(?<c>C-\\d+)', case_sensitive: true }],
        actions: { webhook_url: 'https://hook.eu2.make.com/a', payload: { format: 'flat' } },
      }),
      rule('b', [regex('x')]),
    ]);
    expect(withBoth).toMatchObject({
      extract: [{ field: 'body', regex: '(?<c>C-\\d+)', case_sensitive: true }],
      actions: { payload: { format: 'flat' } },
    });
    expect(Object.keys(plain!)).not.toContain('extract');
    expect(Object.keys(plain!.actions)).toEqual(['webhook_url', 'priority', 'stop_processing']);
  });
});
