import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reconcile, settle, summaryLine } from '../helpers/faults/ledger';
import { faultEmail, sendEmail, type SentEmail } from '../helpers/faults/load';
import { loginOperator, type OperatorSession } from '../helpers/faults/operator-session';
import { startFaultStack, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

const LINK = 'https://www.dropbox.com/scl/fo/redos/file.zip?dl=0';
const LONG_RUN = 'a'.repeat(50_000);
/** Exponential for a backtracking engine on a near-miss input; linear on RE2. */
const CATASTROPHIC = ['(a+)+$', '(a|aa)+$', '^(a|a?)+$', '(.*a){30}$'];
/** Even under a loaded CI machine a linear-time match of 50 KB takes milliseconds; a backtracking one, forever. */
const HOSTILE_DELIVERY_BOUND_MS = 10_000;
const FOLLOWERS = 20;

const rule = (overrides: Record<string, unknown> = {}, actions: Record<string, unknown> = {}) => ({
  name: 'hostile',
  conditions: [{ field: 'body', operator: 'regex', value: '(a+)+$' }],
  ...overrides,
  actions: { webhook_url: 'https://hooks.render-signal.test/rule', priority: 'normal', stop_processing: false, ...actions },
});

/**
 * Fault 7: routing rules written by an operator are hostile input too. Catastrophic regexes run on RE2
 * (linear time), so a 50 KB near-miss body cannot stall a worker; invalid rules are refused at save time.
 */
describe('fault 7: hostile routing rules', () => {
  let byDefault: WebhookSink;
  let byRule: WebhookSink;
  let stack: FaultStack;
  let operator: OperatorSession;
  beforeAll(async () => {
    byDefault = await startWebhookSink();
    byRule = await startWebhookSink();
    stack = await startFaultStack({ env: { WEBHOOK_URL: byDefault.url }, workers: [] });
    operator = await loginOperator(stack.apiUrl);
    const saved = await operator.request('POST', '/api/routing_rules', {
      rules: CATASTROPHIC.map((pattern, i) =>
        rule({ name: `redos ${i}`, conditions: [{ field: 'body', operator: 'regex', value: pattern }] }, { webhook_url: byRule.url }),
      ),
    });
    expect(saved.status).toBe(200);
    await stack.startWorker();
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await byDefault?.close();
    await byRule?.close();
  });

  it('a 50 KB near-miss body is routed in linear time and the emails behind it keep flowing', async () => {
    const started = Date.now();
    // Ends in "b": no rule matches, the worst case for backtracking. Delivered to the default target only.
    const nearMiss = await sendEmail(stack.apiUrl, faultEmail('redos-miss', 0, { body: `${LINK} ${LONG_RUN}b` }));
    // Ends in "a": every rule matches. Delivered to the rules' target and the default one.
    const match = await sendEmail(stack.apiUrl, faultEmail('redos-match', 0, { body: `${LINK} ${LONG_RUN}` }));
    const followers: SentEmail[] = [];
    for (let i = 0; i < FOLLOWERS; i++) followers.push(await sendEmail(stack.apiUrl, faultEmail('redos-follower', i)));
    const all = [nearMiss, match, ...followers];
    expect(all.every((e) => e.status === 200 && e.outcome === 'queued')).toBe(true);

    const expectations = [
      { target: byDefault.url, emailIds: all.map((e) => e.emailId!), receipts: byDefault.received },
      { target: byRule.url, emailIds: [match.emailId!], receipts: byRule.received },
    ];
    await settle(stack, expectations, 60_000);
    const ledger = await reconcile(stack, expectations);
    const arrival = (sink: WebhookSink, email: SentEmail) =>
      sink.received.find((r) => r.json?.email_id === email.emailId)!.receivedAt - email.answeredAt;
    const nearMissMs = arrival(byDefault, nearMiss);
    const matchMs = arrival(byRule, match);
    console.log(
      summaryLine('7 catastrophic regex rules on a 50 KB body', ledger, Date.now() - started, {
        accepted: all.length,
        near_miss_delivered_in: `${nearMissMs}ms`,
        match_delivered_in: `${matchMs}ms`,
        rules: CATASTROPHIC.length,
      }),
    );
    expect(ledger.lost).toEqual([]);
    expect(ledger.failedJobs).toEqual([]);
    expect(ledger.delivered).toBe(all.length + 1);
    expect(ledger.duplicates).toBe(0);
    expect(byRule.received.map((r) => r.json?.email_id)).toEqual([match.emailId]); // the near-miss matched nothing
    expect(nearMissMs).toBeLessThan(HOSTILE_DELIVERY_BOUND_MS);
    expect(matchMs).toBeLessThan(HOSTILE_DELIVERY_BOUND_MS);
    expect(stack.workers[0]!.child.exitCode).toBeNull();
  }, 90_000);

  const INVALID_REGEX = 'Expression régulière invalide.';
  it.each<[string, unknown, string]>([
    ['an uncompilable regex', [rule({ conditions: [{ field: 'body', operator: 'regex', value: '(a+' }] })], INVALID_REGEX],
    ['a look-behind (not RE2)', [rule({ conditions: [{ field: 'body', operator: 'regex', value: '(?<=a)b' }] })], INVALID_REGEX],
    ['a back-reference (not RE2)', [rule({ conditions: [{ field: 'subject', operator: 'not_regex', value: '(a)\\1' }] })], INVALID_REGEX],
    ['a 201-character regex', [rule({ conditions: [{ field: 'body', operator: 'regex', value: 'a'.repeat(201) }] })], INVALID_REGEX],
    ['empty conditions', [rule({ conditions: [] })], 'Chaque règle doit contenir au moins une condition.'],
    ['no conditions at all', [{ name: 'x', actions: rule().actions }], 'Chaque règle doit contenir au moins une condition.'],
    ['a condition that is a string', [rule({ conditions: ['body contains x'] })], 'Condition invalide (objet attendu).'],
    ['an unknown field', [rule({ conditions: [{ field: 'headers', operator: 'contains', value: 'x' }] })], 'Champ de condition invalide.'],
    [
      'an unknown operator',
      [rule({ conditions: [{ field: 'body', operator: 'matches', value: 'x' }] })],
      'Opérateur de condition invalide.',
    ],
    ['an empty value', [rule({ conditions: [{ field: 'body', operator: 'contains', value: '' }] })], 'Valeur de condition requise.'],
    ['no webhook_url', [rule({}, { webhook_url: undefined })], 'webhook_url est requis pour chaque règle.'],
    [
      'an ftp:// webhook_url',
      [rule({}, { webhook_url: 'ftp://files.render-signal.test/hook' })],
      'webhook_url doit être une URL HTTPS valide.',
    ],
    [
      'a placeholder webhook_url',
      [rule({}, { webhook_url: 'https://example.com/hook' })],
      'webhook_url ne peut pas être une URL placeholder (ex: example.com).',
    ],
    ['an unknown priority', [rule({}, { priority: 'urgent' })], 'priority invalide (normal|high).'],
    ['an unknown match mode', [rule({ match: 'some' })], 'match invalide (all|any).'],
    ['enabled as a string', [rule({ enabled: 'yes' })], 'enabled doit être un booléen.'],
    ['actions that are a string', [{ ...rule(), actions: 'send' }], 'Actions invalides (objet attendu).'],
    ['a rule that is a string', ['route everything'], 'Chaque règle doit être un objet.'],
    ['rules that are an object', { first: rule() }, 'rules doit être une liste.'],
    [
      'one bad rule among good ones (all or nothing)',
      [rule(), rule({ conditions: [{ field: 'body', operator: 'regex', value: '[' }] })],
      INVALID_REGEX,
    ],
  ])('refuses %s at save time with 400', async (_name, rules, message) => {
    const before = await operator.request('GET', '/api/routing_rules');
    const answer = await operator.request('POST', '/api/routing_rules', { rules });
    expect({ status: answer.status, code: answer.json.code, message: answer.json.message }).toEqual({
      status: 400,
      code: 'invalid_config',
      message,
    });
    // Nothing was stored: the hostile-but-valid rules saved earlier are still in force, same revision.
    const after = await operator.request('GET', '/api/routing_rules');
    expect(after.json.config).toEqual(before.json.config);
  });
});
