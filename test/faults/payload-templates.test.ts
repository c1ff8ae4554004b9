import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import type { Job } from 'bullmq';
import { faultEmail, sendEmail, type SentEmail } from '../helpers/faults/load';
import { loginOperator, type OperatorSession } from '../helpers/faults/operator-session';
import { startFaultStack, waitFor, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type ReceivedWebhook, type WebhookSink } from '../helpers/webhook-sink';
import { TEST_WEBHOOK_SECRET } from '../helpers/world';

const TEMPLATE = '{ "numero": extracted.numero, "client": sender_email, "lien": delivery_links[0].raw_url, "cle": idempotency_key }';
/** Never ends: a tail recursion (no stack growth) stopped only by TEMPLATE_TIMEOUT_MS; and a non-tail one by the depth cap. */
const RUNAWAYS = ['($f := function($x){ $f($x + 1) }; { "n": $f(1) })', '($f := function($x){ 1 + $f($x) }; { "n": $f(1) })'];
const TEMPLATE_TIMEOUT_MS = 50;
const OTHERS = 100;

const FLAT_KEYS = [
  'email_id',
  'subject',
  'sender_email',
  'sender_name',
  'received_at',
  'body_preview',
  'detector',
  'delivery_time',
  'link_1',
  'extracted_numero',
  'rule_name',
  'idempotency_key',
];

const headersOf = (hook: ReceivedWebhook) => ({
  'webhook-id': String(hook.headers['webhook-id']),
  'webhook-timestamp': String(hook.headers['webhook-timestamp']),
  'webhook-signature': String(hook.headers['webhook-signature']),
});

/**
 * Payload formats with real processes (API + worker from source, loopback targets): a template target receives
 * exactly its JSON, signed over those bytes; a flat target flat keys; a runaway template fails only its own
 * delivery (template_error, within TEMPLATE_TIMEOUT_MS + 1 s) while 100 other emails are delivered as usual.
 */
describe('payload templates: real processes', () => {
  let byDefault: WebhookSink;
  let templated: WebhookSink;
  let flat: WebhookSink;
  let runaway: WebhookSink;
  let stack: FaultStack;
  let operator: OperatorSession;
  beforeAll(async () => {
    [byDefault, templated, flat, runaway] = await Promise.all([
      startWebhookSink(),
      startWebhookSink(),
      startWebhookSink(),
      startWebhookSink(),
    ]);
    stack = await startFaultStack({ env: { WEBHOOK_URL: byDefault.url, TEMPLATE_TIMEOUT_MS: String(TEMPLATE_TIMEOUT_MS) }, workers: [] });
    operator = await loginOperator(stack.apiUrl);
    const saved = await operator.request('POST', '/api/routing_rules', {
      rules: [
        {
          id: 'factures',
          name: 'Factures',
          conditions: [{ field: 'subject', operator: 'regex', value: 'facture\\s+(?<numero>\\d{4})' }],
          actions: { webhook_url: templated.url, payload: { format: 'template', template: TEMPLATE } },
        },
        {
          id: 'plat',
          name: 'Plat',
          conditions: [{ field: 'subject', operator: 'regex', value: 'plat\\s+(?<numero>\\d+)' }],
          actions: { webhook_url: flat.url, payload: { format: 'flat' } },
        },
        ...RUNAWAYS.map((template, i) => ({
          id: `boucle-${i}`,
          name: `Boucle ${i}`,
          conditions: [{ field: 'subject', operator: 'contains', value: `boucle ${i}` }],
          // The second one stops processing: its email has one target, so it takes the fast path (the email job sends).
          actions: { webhook_url: runaway.url, stop_processing: i === 1, payload: { format: 'template', template } },
        })),
      ],
    });
    expect(saved.status).toBe(200);
    await stack.startWorker();
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await Promise.all([byDefault, templated, flat, runaway].map((sink) => sink?.close()));
  });

  it('sends each target its body, signed over the bytes sent, and a runaway template fails only its own delivery', async () => {
    const facture = await sendEmail(
      stack.apiUrl,
      faultEmail('facture', 0, { subject: 'Votre facture 2026', sender: 'Compta <compta@client.fr>' }),
    );
    const plat = await sendEmail(stack.apiUrl, faultEmail('plat', 0, { subject: 'Commande plat 77' }));
    const loops = await Promise.all(
      RUNAWAYS.map((_t, i) => sendEmail(stack.apiUrl, faultEmail('boucle', i, { subject: `Une boucle ${i}` }))),
    );
    const others: SentEmail[] = [];
    for (let i = 0; i < OTHERS; i++) others.push(await sendEmail(stack.apiUrl, faultEmail('other', i)));
    const all = [facture, plat, ...loops, ...others];
    expect(all.every((e) => e.status === 200 && e.outcome === 'queued')).toBe(true);

    // Every email but the one stopped by its rule also reaches the default target, with the standard body.
    const toDefault = all.filter((e) => e !== loops[1]);
    await byDefault.waitFor(toDefault.length, 90_000);
    await templated.waitFor(1, 30_000);
    await flat.waitFor(1, 30_000);
    expect(new Set(byDefault.received.map((r) => r.json!.email_id))).toEqual(new Set(toDefault.map((e) => e.emailId)));
    expect(byDefault.received.every((r) => 'microsoft_graph_email_id' in r.json! && !('extracted' in r.json!))).toBe(true);

    const [hook] = templated.received;
    expect(JSON.parse(hook!.body)).toEqual({
      numero: '2026',
      client: 'compta@client.fr',
      lien: 'https://www.dropbox.com/scl/fo/abc0/file.zip?dl=0',
      cle: hook!.headers['webhook-id'],
    });
    // Exactly that JSON (nothing else in the body), signed over it.
    expect(hook!.body).toBe(JSON.stringify(JSON.parse(hook!.body)));
    expect(() => new Webhook(TEST_WEBHOOK_SECRET).verify(hook!.body, headersOf(hook!))).not.toThrow();

    const [flatHook] = flat.received;
    expect(Object.keys(flatHook!.json!)).toEqual(FLAT_KEYS);
    expect(flatHook!.json).toMatchObject({
      email_id: plat.emailId,
      extracted_numero: '77',
      rule_name: 'Plat',
      idempotency_key: flatHook!.headers['webhook-id'],
    });
    expect(() => new Webhook(TEST_WEBHOOK_SECRET).verify(flatHook!.body, headersOf(flatHook!))).not.toThrow();

    // The runaway templates: their deliveries are dead letters with template_error, each failed within the bound.
    let failed: Job[] = [];
    await waitFor(
      async () => {
        failed = (await stack.queues.delivery.getFailed(0, 50)).filter((job) => String(job.data.target?.url) === runaway.url);
        return failed.length === RUNAWAYS.length;
      },
      30_000,
      'the runaway deliveries in the dead letter',
    );
    for (const job of failed) {
      expect(job.attemptsMade).toBe(1); // permanent: never retried
      expect(job.failedReason).toContain('template_error');
      const logs = await stack.queues.delivery.getJobLogs(job.id!);
      expect(logs.logs.join('\n')).toMatch(/template_error.*(D1012|D1011)/);
    }
    expect(runaway.requests).toHaveLength(0);
    // Within TEMPLATE_TIMEOUT_MS + 1 s of processing, as the attempt records it.
    for (const loop of loops) {
      const journey = await operator.request('GET', `/api/emails/${loop.emailId}`);
      const targets = (
        journey.json.journey as { targets: Array<{ origin: string; state: string; attempts: Array<Record<string, unknown>> }> }
      ).targets;
      const failedTarget = targets.find((t) => t.origin.startsWith('rule:boucle'))!;
      expect(failedTarget.state).toBe('failed');
      expect(failedTarget.attempts[0]).toMatchObject({ failure_reason: 'template_error' });
      expect(Number(failedTarget.attempts[0]!.duration_ms)).toBeLessThan(TEMPLATE_TIMEOUT_MS + 1_000);
      if (loop !== loops[1]) expect(targets.find((t) => t.origin === 'default')!.state).toBe('delivered');
    }
    const logs = await operator.request('GET', '/api/webhook_logs?status=error&limit=50');
    expect((logs.json.logs as Array<Record<string, unknown>>).filter((l) => l.failure_reason === 'template_error')).toHaveLength(
      RUNAWAYS.length,
    );
    expect(stack.workers[0]!.child.exitCode).toBeNull();
  }, 150_000);

  it('re-delivers with the fixed template when asked for the current payload', async () => {
    const loop = await sendEmail(stack.apiUrl, faultEmail('boucle-fix', 0, { subject: 'Encore une boucle 0' }));
    await waitFor(
      async () => (await stack.queues.delivery.getFailed(0, 100)).some((j) => j.data.email_id === loop.emailId),
      30_000,
      'the runaway delivery failed',
    );
    // Its third failure in a row: the destination-health alert names the target, like any failing target.
    await waitFor(
      async () => {
        const health = await fetch(`${stack.apiUrl}/health`).then((r) => r.json() as Promise<{ problem_details: Array<{ code: string }> }>);
        return health.problem_details.some((p) => p.code === 'target_failing');
      },
      15_000,
      'the target_failing health problem',
    );
    const rules = (await operator.request('GET', '/api/routing_rules')).json.config as {
      rules: Array<Record<string, unknown>>;
      _revision: number;
    };
    const fixed = rules.rules.map((r) =>
      r.id === 'boucle-0'
        ? { ...r, actions: { ...(r.actions as object), payload: { format: 'template', template: '{ "fixed": subject }' } } }
        : r,
    );
    expect((await operator.request('POST', '/api/routing_rules', { rules: fixed })).status).toBe(200);
    const journey = await operator.request('GET', `/api/emails/${loop.emailId}`);
    const target = (journey.json.journey as { targets: Array<{ webhook_id: string; origin: string }> }).targets.find(
      (t) => t.origin === 'rule:boucle-0',
    )!;
    const again = await operator.request('POST', `/api/emails/${loop.emailId}/redeliver`, {
      webhook_id: target.webhook_id,
      payload: 'current',
    });
    expect(again.status).toBe(202);
    await runaway.waitFor(1, 30_000);
    expect(runaway.received[0]!.json).toEqual({ fixed: 'Encore une boucle 0' });
    expect(runaway.received[0]!.headers['webhook-id']).toBe(target.webhook_id);
  }, 90_000);
});
