import { describe, expect, it } from '@jest/globals';
import type { DeliverWebhookJob } from '@render-signal/contracts';
import { failureNotificationFor, type DeadLetterPrefs } from './dead-letter';
import { webhookIdFor } from './signing';

const failed: DeliverWebhookJob = {
  email_id: 'e1',
  accepted_at: 1,
  webhook_id: 'msg_1',
  target: {
    url: 'https://hook.make.com/secret-token',
    origin: 'rule:vip',
    mode: 'json',
    fallback_on_415: true,
    tls_verify: true,
    require_success_flag: false,
  },
  payload: { a: 1 },
  subject: 'Lot 42',
  kind: 'email',
};
const on: DeadLetterPrefs = { notify_on_failure: true, failure_webhook_url: 'https://alerts.example/fail' };
const context = (prefs: DeadLetterPrefs) => ({
  attempts: 4,
  prefs,
  policy: { schedule: [1, 2, 3, 4, 5], jitter: 0, maxRetryAfterMs: 1 },
  now: Date.parse('2026-12-01T12:00:00Z'),
  maskUrl: (url: string) => `${new URL(url).origin}/***`,
});
const facts = { failure_reason: 'upstream_server_error' as const, status: 502, duration_ms: 12 };

describe('failureNotificationFor', () => {
  it.each<[string, DeliverWebhookJob, DeadLetterPrefs]>([
    ['notify_on_failure off', failed, { ...on, notify_on_failure: false }],
    ['no failure webhook', failed, { ...on, failure_webhook_url: null }],
    ['empty failure webhook', failed, { ...on, failure_webhook_url: '' }],
    ['a notification never notifies', { ...failed, kind: 'failure_notification' }, on],
    ['a test send never notifies', { ...failed, kind: 'test' }, on],
  ])('none: %s', (_name, job, prefs) => {
    expect(failureNotificationFor(job, facts, context(prefs))).toBeUndefined();
  });

  it('one notification: stable id, masked target, the failure facts', () => {
    const n = failureNotificationFor(failed, facts, context(on))!;
    expect(n.webhookId).toBe(webhookIdFor('msg_1.failure', 'https://alerts.example/fail'));
    expect(failureNotificationFor(failed, facts, context(on))!.webhookId).toBe(n.webhookId);
    expect(n.attempts).toBe(6);
    expect(n.data).toMatchObject({ kind: 'failure_notification', webhook_id: n.webhookId, email_id: 'e1' });
    expect(n.data.target).toMatchObject({ url: 'https://alerts.example/fail', origin: 'failure_notification', fallback_on_415: false });
    expect(n.data.payload).toEqual({
      event: 'delivery.failed',
      email_id: 'e1',
      webhook_id: 'msg_1',
      target: 'https://hook.make.com/***',
      target_origin: 'rule:vip',
      subject: 'Lot 42',
      failure_reason: 'upstream_server_error',
      journey_url: '/dashboard/#emails/e1',
      status_code: 502,
      attempts: 4,
      failed_at: '2026-12-01T12:00:00.000Z',
    });
    expect(JSON.stringify(n.data)).not.toContain('secret-token');
  });
});
