import { describe, expect, it } from '@jest/globals';
import { createPushVerifier, decodeGmailNotification, PushFormatError } from './pubsub-push';

const wrap = (data: unknown) => ({
  message: { data: Buffer.from(JSON.stringify(data)).toString('base64'), messageId: '42' },
  subscription: 'projects/p/subscriptions/s',
});

describe('decodeGmailNotification', () => {
  it.each([
    [{ emailAddress: 'User@Example.org', historyId: 9876543210 }, '9876543210'],
    [{ emailAddress: 'user@example.org', historyId: '9876543210' }, '9876543210'],
  ])('reads %j', (data, historyId) => {
    expect(decodeGmailNotification(wrap(data))).toEqual({ emailAddress: 'user@example.org', historyId, pubsubMessageId: '42' });
  });
  it.each([
    ['an array', []],
    ['no message', { subscription: 's' }],
    ['a non-notification', wrap({ hello: 'world' })],
    ['a negative history id', wrap({ emailAddress: 'a@example.org', historyId: -1 })],
    ['a history id with letters', wrap({ emailAddress: 'a@example.org', historyId: '12ab' })],
  ])('refuses %s', (_label, body) => {
    expect(() => decodeGmailNotification(body)).toThrow(PushFormatError);
  });
});

describe('push verifier, token mode', () => {
  const verifier = createPushVerifier({ mode: 'token', token: 'a-long-random-verification-token-0123456789' });
  it.each([
    ['a-long-random-verification-token-0123456789', true],
    ['a-long-random-verification-token-0123456780', false],
    ['short', false],
    [undefined, false],
  ])('query token %s → %s', async (queryToken, ok) => {
    expect((await verifier.verify({ authorization: undefined, queryToken })).ok).toBe(ok);
  });
});
