import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/helpers/test-redis';
import { createCredentialCipher } from './credential-cipher';
import { createMailboxStore, isLaterHistoryId } from './mailbox-store';

/** Flips one bit of the ciphertext itself (a base64 text edit may only touch padding bits). */
function flipCiphertextBit(blob: string): string {
  const parts = blob.split('.');
  const bytes = Buffer.from(parts[2]!, 'base64url');
  bytes[0] = bytes[0]! ^ 1;
  parts[2] = bytes.toString('base64url');
  return parts.join('.');
}

/** Keeps only the first `bytes` of the GCM tag. */
function truncateTag(blob: string, bytes: number): string {
  const parts = blob.split('.');
  parts[3] = Buffer.from(parts[3]!, 'base64url').subarray(0, bytes).toString('base64url');
  return parts.join('.');
}

describe('credential cipher', () => {
  const cipher = createCredentialCipher('secret-key-0123456789');
  it('round-trips and never stores the plaintext', () => {
    const blob = cipher.encrypt('1//refresh-token', 'A@example.org');
    expect(blob).not.toContain('refresh');
    expect(cipher.decrypt(blob, 'a@example.org')).toBe('1//refresh-token');
    expect(cipher.encrypt('1//refresh-token', 'a@example.org')).not.toBe(blob);
  });
  it.each([
    ['another mailbox', () => cipher.decrypt(cipher.encrypt('t', 'a@example.org'), 'b@example.org')],
    [
      'another SECRET_KEY',
      () => createCredentialCipher('another-secret-key-000').decrypt(cipher.encrypt('t', 'a@example.org'), 'a@example.org'),
    ],
    ['a tampered blob', () => cipher.decrypt(flipCiphertextBit(cipher.encrypt('t', 'a@example.org')), 'a@example.org')],
    // A truncated tag is a forgery shortcut (a 4-byte tag falls to 2^32 tries): only the full 16 bytes are accepted.
    ['a tag truncated to 4 bytes', () => cipher.decrypt(truncateTag(cipher.encrypt('t', 'a@example.org'), 4), 'a@example.org')],
    ['a tag truncated to 12 bytes', () => cipher.decrypt(truncateTag(cipher.encrypt('t', 'a@example.org'), 12), 'a@example.org')],
  ])('refuses a blob read for %s', (_label, read) => {
    expect(read).toThrow();
  });
});

describe('isLaterHistoryId', () => {
  it.each([
    ['10', '9', true],
    ['9', '10', false],
    ['18446744073709551615', '18446744073709551614', true],
    ['5', '5', false],
  ])('%s after %s → %s', (a, b, expected) => {
    expect(isLaterHistoryId(a, b)).toBe(expected);
  });
});

describe('mailbox store', () => {
  const redis = new Redis(testRedisUrl());
  const prefix = uniquePrefix('gmail-store');
  const store = createMailboxStore({ redis, prefix, cipher: createCredentialCipher('secret-key-0123456789') });
  afterAll(async () => {
    await deleteKeys(testRedisUrl(), prefix);
    redis.disconnect();
  });

  it('stores the refresh token encrypted and moves the history id forward only', async () => {
    await store.connect({
      address: 'Erin@Example.org',
      auth: 'oauth',
      refreshToken: '1//secret-refresh',
      historyId: '99',
      watchExpiresAt: 1,
    });
    const hash = await redis.hgetall(`${prefix}:gmail:mailbox:erin@example.org`);
    expect(JSON.stringify(hash)).not.toContain('secret-refresh');
    expect(await store.refreshToken('erin@example.org')).toBe('1//secret-refresh');
    expect(await store.advanceHistoryId('erin@example.org', '100')).toBe(true);
    expect(await store.advanceHistoryId('erin@example.org', '99')).toBe(false);
    expect(await store.advanceHistoryId('erin@example.org', '100')).toBe(false);
    expect((await store.get('erin@example.org'))?.historyId).toBe('100');
    // A history sync that reached the end: every message received before it listed was read.
    expect((await store.get('erin@example.org'))?.readThroughAt).toBeUndefined();
    expect(await store.advanceHistoryId('erin@example.org', '100', 5, { readThroughAt: 4 })).toBe(false);
    expect((await store.get('erin@example.org'))?.readThroughAt).toBe(4);
    expect(await store.advanceHistoryId('nobody@example.org', '5')).toBe(false);
    expect(await store.markNeedsReauth('erin@example.org', 'token_revoked', undefined)).toBe(true);
    expect(await store.list()).toEqual([
      expect.objectContaining({ address: 'erin@example.org', state: 'needs_reauth', lastError: 'token_revoked' }),
    ]);
    expect(await store.remove('erin@example.org')).toBe(true);
    expect(await store.list()).toEqual([]);
  });

  it('a reconnect keeps the history position and first connection time, and clears the errors', async () => {
    const address = 'Fay@Example.org';
    const first = await store.connect({ address, auth: 'oauth', refreshToken: '1//a', historyId: '500', watchExpiresAt: 1, now: 1_000 });
    expect(first).toMatchObject({ resumed: false, historyId: '500', connectedAt: 1_000, lastConnectAt: 1_000, grant: 1 });
    await store.advanceHistoryId(address, '520', 2_000);
    await store.markNeedsReauth(address, 'invalid_grant', first.grant);
    await store.recordResyncGap(address, { first_at: 2_500, last_at: 2_500, from: 100, to: 200, at_least: 3, reasons: ['max_messages'] });
    await store.recordWatchFailure(address, '503 backendError', 3_000);
    await store.setSyncError(address, 'label');
    const again = await store.connect({ address, auth: 'oauth', refreshToken: '1//b', historyId: '900', watchExpiresAt: 2, now: 5_000 });
    expect(again).toMatchObject({
      resumed: true,
      state: 'active',
      historyId: '520',
      connectedAt: 1_000,
      lastConnectAt: 5_000,
      lastError: undefined,
      watchFailedAt: undefined,
      syncError: undefined,
      grant: first.grant + 1,
      // What a resync could not read stays until acknowledged, reconnect or not.
      resyncGap: { first_at: 2_500, last_at: 2_500, from: 100, to: 200, at_least: 3, reasons: ['max_messages'] },
    });
    expect(await store.credential(address)).toEqual({ refreshToken: '1//b', grant: first.grant + 1 });
    // A sync still running on the first grant cannot flip the reconnected mailbox back.
    expect(await store.markNeedsReauth(address, 'invalid_grant', first.grant)).toBe(false);
    expect((await store.get(address))?.state).toBe('active');
    // Acknowledged: gone; a later cut starts a new gap.
    // Acknowledging what the operator saw: a gap recorded since then is not cleared with it.
    expect(await store.acknowledgeResyncGap(address, { lastAt: 1_000 })).toMatchObject({ status: 'changed', gap: { last_at: 2_500 } });
    expect(await store.acknowledgeResyncGap(address, { lastAt: 2_500 })).toMatchObject({ status: 'acknowledged', gap: { at_least: 3 } });
    expect(await store.acknowledgeResyncGap(address)).toEqual({ status: 'none' });
    expect((await store.get(address))?.resyncGap).toBeUndefined();
    expect(await store.refreshToken(address)).toBe('1//b');
    await store.recordWatchFailure(address, '503 backendError', 6_000);
    expect(await store.get(address)).toMatchObject({ watchFailedAt: 6_000, watchError: '503 backendError' });
    await store.recordWatch(address, 99);
    expect(await store.get(address)).toMatchObject({ watchFailedAt: undefined, watchExpiresAt: 99 });
    await store.remove(address);
  });

  it('remembers the message ids the sync took in, for the dedup window', async () => {
    const address = 'gus@example.org';
    await store.rememberMessages(address, ['m1', 'm2'], 60_000, 1_000);
    expect(await store.seenMessages(address, ['m1', 'm3', 'm2'])).toEqual(new Set(['m1', 'm2']));
    // Past the window, old ids are trimmed on the next write.
    await store.rememberMessages(address, ['m4'], 60_000, 100_000);
    expect(await store.seenMessages(address, ['m1', 'm4'])).toEqual(new Set(['m4']));
    expect(await redis.pttl(`${prefix}:gmail:seen:gus@example.org`)).toBeGreaterThan(0);
  });
});
