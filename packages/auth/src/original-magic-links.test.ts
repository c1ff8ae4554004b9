import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { deriveAuthKeys } from './keys';
import { createMagicLinkStore } from './magic-links';
import { originalToken, parseOriginalToken, storeCarriedMagicLink, withOriginalMagicLinks } from './original-magic-links';

const SECRET = 'flask-secret-of-the-original-0123';
const ID = 'AbCdEfGhIjKlMnOpQrStUv'; // secrets.token_urlsafe(16): 22 characters

describe('original magic-link tokens', () => {
  it.each([
    [`${ID}.permanent.${'a'.repeat(64)}`, { id: ID, expires: null }],
    [`${ID}.1767225600.${'B'.repeat(64)}`, { id: ID, expires: 1767225600 }],
    [`${ID}.soon.${'a'.repeat(64)}`, null],
    [`${ID}.permanent.${'a'.repeat(63)}`, null],
    ['eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln', null], // one of our JWTs
    ['', null],
  ])('parses %s', (token, expected) => {
    const parsed = parseOriginalToken(token);
    expect(parsed ? { id: parsed.id, expires: parsed.expires } : null).toEqual(expected);
  });

  it('signs exactly as the original: hex HMAC-SHA256(secret, "<id>.<expires>")', () => {
    const python = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(`${ID}.permanent`).digest('hex');
    expect(originalToken(SECRET, ID, null)).toBe(`${ID}.permanent.${python}`);
  });

  describe('against carried records', () => {
    const { redis, prefix } = useTestRedis('orig-magic');
    const store = withOriginalMagicLinks(createMagicLinkStore({ redis, prefix, key: deriveAuthKeys(SECRET).magicLink }), {
      redis,
      prefix,
      secret: SECRET,
    });

    it('keeps a permanent link reusable, listed and revocable', async () => {
      expect(await storeCarriedMagicLink(redis, prefix, { id: ID, expires: null })).toBe(true);
      expect(await storeCarriedMagicLink(redis, prefix, { id: ID, expires: null })).toBe(false);
      const token = originalToken(SECRET, ID, null);
      expect(await store.consume(token)).toEqual({ ok: true, id: ID, unlimited: true });
      expect(await store.consume(token)).toEqual({ ok: true, id: ID, unlimited: true });
      const listed = await store.listPermanent();
      expect(listed.find((l) => l.id === ID)?.last_used_at).not.toBeNull();
      expect(await store.consume(originalToken('another-secret-0123456789', ID, null))).toEqual({ ok: false, reason: 'invalid' });
      expect(await store.revoke(ID)).toBe(true);
      expect(await store.consume(token)).toEqual({ ok: false, reason: 'revoked' });
    });

    it('keeps an unexpired one-shot link single-use, and refuses expired or unknown ones', async () => {
      const expires = Math.floor(Date.now() / 1000) + 600;
      await storeCarriedMagicLink(redis, prefix, { id: 'oneshot1', expires });
      const token = originalToken(SECRET, 'oneshot1', expires);
      expect(await store.consume(token)).toEqual({ ok: true, id: 'oneshot1', unlimited: false });
      expect(await store.consume(token)).toEqual({ ok: false, reason: 'used' });
      expect(await store.consume(originalToken(SECRET, 'oneshot1', expires - 1200))).toEqual({ ok: false, reason: 'expired' });
      expect(await store.consume(originalToken(SECRET, 'never-carried', expires))).toEqual({ ok: false, reason: 'unknown' });
    });

    it('still accepts our own links', async () => {
      const link = await store.issue({ unlimited: false, ttlSeconds: 60 });
      expect(await store.consume(link.token)).toMatchObject({ ok: true, id: link.id });
    });
  });
});
