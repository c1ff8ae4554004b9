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
    ['a session token', async () => (await issueSession(keys.magicLink, { subject: 'admin', via: 'password', ttlMs: 60_000 })).token],
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
});
