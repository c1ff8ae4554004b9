import { describe, expect, it } from '@jest/globals';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { deriveAuthKeys } from './keys';
import { createMagicLinkStore } from './magic-links';
import { issueSession } from './session';

const keys = deriveAuthKeys('test-secret-key-0123456789');

describe('magic links (real Redis)', () => {
  const { redis, prefix } = useTestRedis('magic');
  const store = createMagicLinkStore({ redis, prefix, key: keys.magicLink });

  it('a one-shot link logs in once, then reads "used"', async () => {
    const link = await store.issue({ unlimited: false, ttlSeconds: 900 });
    expect(link.unlimited).toBe(false);
    expect(link.expiresAt!.getTime() - Date.now()).toBeGreaterThan(890_000);
    expect(await store.consume(link.token)).toEqual({ ok: true, id: link.id, unlimited: false });
    expect(await store.consume(link.token)).toEqual({ ok: false, reason: 'used' });
  });

  it('two simultaneous clicks: exactly one wins', async () => {
    const link = await store.issue({ unlimited: false, ttlSeconds: 900 });
    const results = await Promise.all(Array.from({ length: 10 }, () => store.consume(link.token)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'used')).toHaveLength(9);
  });

  it('an expired link is refused as expired', async () => {
    const issuedAt = new Date(Date.now() - 2 * 3_600_000);
    const link = await store.issue({ unlimited: false, ttlSeconds: 60, now: issuedAt });
    expect(await store.consume(link.token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('a validly signed link whose record is gone is refused as unknown', async () => {
    const link = await store.issue({ unlimited: false, ttlSeconds: 900 });
    await redis.del(`${prefix}:auth:magic:once:${link.id}`);
    expect(await store.consume(link.token)).toEqual({ ok: false, reason: 'unknown' });
  });

  it.each([
    ['garbage', async () => 'garbage'],
    [
      'a tampered signature',
      async () =>
        (await store.issue({ unlimited: false, ttlSeconds: 900 })).token.replace(/.{4}$/, (end) => (end === 'AAAA' ? 'BBBB' : 'AAAA')),
    ],
    [
      'a link signed with another key',
      async () => {
        const other = createMagicLinkStore({ redis, prefix, key: deriveAuthKeys('another-secret-key-0123456789').magicLink });
        return (await other.issue({ unlimited: false, ttlSeconds: 900 })).token;
      },
    ],
    [
      'a session token',
      async () =>
        (await issueSession(keys.magicLink, { subject: 'admin', via: 'password', cred: 'password:test', epoch: 0, ttlMs: 60_000 })).token,
    ],
  ])('refuses %s as invalid', async (_label, make) => {
    expect(await store.consume(await make())).toEqual({ ok: false, reason: 'invalid' });
  });

  it('an unlimited link is reusable, listed, and refused once revoked', async () => {
    const link = await store.issue({ unlimited: true, ttlSeconds: 900, label: 'ops laptop' });
    expect(link.expiresAt).toBeNull();
    expect(await store.consume(link.token)).toEqual({ ok: true, id: link.id, unlimited: true });
    expect(await store.consume(link.token)).toEqual({ ok: true, id: link.id, unlimited: true });
    const listed = (await store.listPermanent()).find((l) => l.id === link.id);
    expect(listed).toMatchObject({ id: link.id, label: 'ops laptop' });
    expect(listed?.last_used_at).not.toBeNull();
    expect(await store.revoke(link.id)).toBe(true);
    expect(await store.revoke(link.id)).toBe(false);
    expect((await store.listPermanent()).some((l) => l.id === link.id)).toBe(false);
    expect(await store.consume(link.token)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('one-shot links are not listed as permanent', async () => {
    const link = await store.issue({ unlimited: false, ttlSeconds: 900 });
    expect((await store.listPermanent()).some((l) => l.id === link.id)).toBe(false);
  });

  describe('permanent links with a maximum age (MAGIC_LINK_PERMANENT_MAX_AGE)', () => {
    const DAY = 86_400_000;
    const aged = createMagicLinkStore({ redis, prefix: `${prefix}:aged`, key: keys.magicLink, permanentMaxAgeMs: 30 * DAY });

    it('works until its maximum age, then is refused as expired; the list says when it ends', async () => {
      const created = new Date(Date.now() - 29 * DAY);
      const link = await aged.issue({ unlimited: true, ttlSeconds: 900, label: 'old', now: created });
      expect(await aged.consume(link.token)).toEqual({ ok: true, id: link.id, unlimited: true });
      expect(await aged.isActive(link.id)).toBe(true);
      const later = new Date(created.getTime() + 30 * DAY + 1);
      expect(await aged.consume(link.token, later)).toEqual({ ok: false, reason: 'expired' });
      expect(await aged.isActive(link.id, later)).toBe(false);
      const [listed] = await aged.listPermanent();
      expect(listed).toMatchObject({ id: link.id, created_at: created.toISOString(), label: 'old' });
      expect(listed?.expires_at).toBe(new Date(created.getTime() + 30 * DAY).toISOString());
      expect(listed?.last_used_at).not.toBeNull();
    });

    it('without the setting a permanent link never ages out (the original behaviour)', async () => {
      const link = await store.issue({ unlimited: true, ttlSeconds: 900, now: new Date(Date.now() - 3650 * DAY) });
      expect(await store.consume(link.token)).toMatchObject({ ok: true });
      expect(await store.isActive(link.id)).toBe(true);
      expect((await store.listPermanent()).find((l) => l.id === link.id)?.expires_at).toBeNull();
      await store.revoke(link.id);
      expect(await store.isActive(link.id)).toBe(false);
    });
  });
});
