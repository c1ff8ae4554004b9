import { describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { signWebhook, webhookIdFor } from './signing';

// The Standard Webhooks specification's own example (secret, id, timestamp, body → signature).
const SPEC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SPEC_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const SPEC_TS = 1614265330;
const SPEC_BODY = '{"test": 2432232314}';
const SPEC_SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

describe('signWebhook (Standard Webhooks v1)', () => {
  it.each<[string, string, string, number, string, string]>([
    ['the specification example', SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, SPEC_SIGNATURE],
    ['the same secret without its whsec_ prefix', SPEC_SECRET.slice(6), SPEC_ID, SPEC_TS, SPEC_BODY, SPEC_SIGNATURE],
  ])('%s', (_name, secret, id, ts, body, expected) => {
    expect(signWebhook(secret, id, ts, Buffer.from(body, 'utf8'))).toBe(expected);
  });

  it.each([
    ['another id', { id: 'msg_other' }],
    ['another timestamp', { ts: SPEC_TS + 1 }],
    ['another body', { body: '{"test": 2432232315}' }],
    ['another secret', { secret: 'whsec_' + Buffer.from('another secret key 123').toString('base64') }],
  ])('%s changes the signature', (_name, change: { id?: string; ts?: number; body?: string; secret?: string }) => {
    const signature = signWebhook(
      change.secret ?? SPEC_SECRET,
      change.id ?? SPEC_ID,
      change.ts ?? SPEC_TS,
      Buffer.from(change.body ?? SPEC_BODY),
    );
    expect(signature).not.toBe(SPEC_SIGNATURE);
  });

  it('a receiver using the standardwebhooks library verifies it (UTF-8 body, non-ASCII unescaped)', () => {
    const body = JSON.stringify({ subject: 'Lot ’42’ — été 😀', email_id: 'abc' });
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'msg_abc',
      'webhook-timestamp': String(ts),
      'webhook-signature': signWebhook(SPEC_SECRET, 'msg_abc', ts, Buffer.from(body, 'utf8')),
    };
    expect(new Webhook(SPEC_SECRET).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(SPEC_SECRET).verify(body.replace('abc', 'abd'), headers)).toThrow();
  });
});

describe('webhookIdFor', () => {
  it('stable per (email, target), different across either', () => {
    const id = webhookIdFor('e1', 'https://a.example/hook');
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(webhookIdFor('e1', 'https://a.example/hook')).toBe(id);
    expect(webhookIdFor('e2', 'https://a.example/hook')).not.toBe(id);
    expect(webhookIdFor('e1', 'https://b.example/hook')).not.toBe(id);
  });
});
