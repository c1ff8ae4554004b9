import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { deriveAuthKeys, SESSION_AUDIENCE, TOKEN_ISSUER } from './keys';
import { createSessionRevocations, issueSession, verifySession } from './session';

const keys = deriveAuthKeys('test-secret-key-0123456789');
const otherKeys = deriveAuthKeys('another-secret-key-0123456789');
const HOUR = 3_600_000;

describe('session tokens', () => {
  it('round-trips the claims', async () => {
    const now = new Date('2026-03-01T10:00:00Z');
    const { token, claims } = await issueSession(keys.session, { subject: 'admin', via: 'password', ttlMs: 8 * HOUR, now });
    expect(claims.exp - claims.iat).toBe(8 * 3600);
    expect(await verifySession(keys.session, token, new Date(now.getTime() + HOUR))).toEqual(claims);
  });

  it('gives each session its own jti and CSRF token', async () => {
    const a = await issueSession(keys.session, { subject: 'admin', via: 'password', ttlMs: HOUR });
    const b = await issueSession(keys.session, { subject: 'admin', via: 'magic_link', ttlMs: HOUR });
    expect(a.claims.jti).not.toBe(b.claims.jti);
    expect(a.claims.csrf).not.toBe(b.claims.csrf);
    expect((await verifySession(keys.session, b.token))?.via).toBe('magic_link');
  });

  it.each([
    [
      'expired',
      async () =>
        (await issueSession(keys.session, { subject: 'admin', via: 'password', ttlMs: HOUR, now: new Date(Date.now() - 2 * HOUR) })).token,
    ],
    [
      'signed with another SECRET_KEY',
      async () => (await issueSession(otherKeys.session, { subject: 'admin', via: 'password', ttlMs: HOUR })).token,
    ],
    [
      'signed with the magic-link key',
      async () => (await issueSession(keys.magicLink, { subject: 'admin', via: 'password', ttlMs: HOUR })).token,
    ],
    [
      'wrong audience',
      async () =>
        new SignJWT({ csrf: 'x' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(TOKEN_ISSUER)
          .setAudience('other')
          .setSubject('admin')
          .setJti('j')
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(keys.session),
    ],
    [
      'no csrf claim',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(TOKEN_ISSUER)
          .setAudience(SESSION_AUDIENCE)
          .setSubject('admin')
          .setJti('j')
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(keys.session),
    ],
    [
      'alg none',
      async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.`,
    ],
    ['garbage', async () => 'not-a-jwt'],
    ['empty', async () => ''],
  ])('refuses a token that is %s', async (_label, make) => {
    expect(await verifySession(keys.session, await make())).toBeNull();
  });
});

describe('session revocation (real Redis)', () => {
  const { redis, prefix } = useTestRedis('sess');

  it('deny-lists a jti until the token would expire', async () => {
    const revocations = createSessionRevocations({ redis, prefix });
    const { claims } = await issueSession(keys.session, { subject: 'admin', via: 'password', ttlMs: HOUR });
    expect(await revocations.isRevoked(claims.jti)).toBe(false);
    await revocations.revoke(claims);
    expect(await revocations.isRevoked(claims.jti)).toBe(true);
    const ttl = await redis.pttl(`${prefix}:auth:session:revoked:${claims.jti}`);
    expect(ttl).toBeGreaterThan(HOUR - 10_000);
    expect(ttl).toBeLessThanOrEqual(HOUR + 1_000);
  });

  it('does not store anything for an already expired token', async () => {
    const revocations = createSessionRevocations({ redis, prefix });
    await revocations.revoke({ jti: 'old', exp: Math.floor(Date.now() / 1000) - 10 });
    expect(await revocations.isRevoked('old')).toBe(false);
  });
});
