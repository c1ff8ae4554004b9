import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { deriveAuthKeys, SESSION_AUDIENCE, TOKEN_ISSUER } from './keys';
import {
  boundMagicLinkId,
  createSessionRevocations,
  issueSession,
  magicLinkCredential,
  passwordCredential,
  sessionBindingHolds,
  verifySession,
} from './session';

const keys = deriveAuthKeys('test-secret-key-0123456789');
const otherKeys = deriveAuthKeys('another-secret-key-0123456789');
const HOUR = 3_600_000;

describe('session tokens', () => {
  it('round-trips the claims', async () => {
    const now = new Date('2026-03-01T10:00:00Z');
    const { token, claims } = await issueSession(keys.session, {
      subject: 'admin',
      via: 'password',
      cred: 'password:test',
      epoch: 0,
      ttlMs: 8 * HOUR,
      now,
    });
    expect(claims.exp - claims.iat).toBe(8 * 3600);
    expect(await verifySession(keys.session, token, new Date(now.getTime() + HOUR))).toEqual(claims);
  });

  it('gives each session its own jti and CSRF token', async () => {
    const a = await issueSession(keys.session, { subject: 'admin', via: 'password', cred: 'password:test', epoch: 0, ttlMs: HOUR });
    const b = await issueSession(keys.session, { subject: 'admin', via: 'magic_link', cred: 'password:test', epoch: 0, ttlMs: HOUR });
    expect(a.claims.jti).not.toBe(b.claims.jti);
    expect(a.claims.csrf).not.toBe(b.claims.csrf);
    expect((await verifySession(keys.session, b.token))?.via).toBe('magic_link');
  });

  it.each([
    [
      'expired',
      async () =>
        (
          await issueSession(keys.session, {
            subject: 'admin',
            via: 'password',
            cred: 'password:test',
            epoch: 0,
            ttlMs: HOUR,
            now: new Date(Date.now() - 2 * HOUR),
          })
        ).token,
    ],
    [
      'signed with another SECRET_KEY',
      async () =>
        (await issueSession(otherKeys.session, { subject: 'admin', via: 'password', cred: 'password:test', epoch: 0, ttlMs: HOUR })).token,
    ],
    [
      'signed with the magic-link key',
      async () =>
        (await issueSession(keys.magicLink, { subject: 'admin', via: 'password', cred: 'password:test', epoch: 0, ttlMs: HOUR })).token,
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
    const { claims } = await issueSession(keys.session, {
      subject: 'admin',
      via: 'password',
      cred: 'password:test',
      epoch: 0,
      ttlMs: HOUR,
    });
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

describe('session binding (pure)', () => {
  const pw = passwordCredential(keys.session, 'admin', 'the-old-password');
  const base = { revoked: false, currentEpoch: 3, passwordCredential: pw };

  it('a password generation changes with the password and the user, and never shows the password', () => {
    expect(passwordCredential(keys.session, 'admin', 'the-old-password')).toBe(pw);
    expect(passwordCredential(keys.session, 'admin', 'the-new-password')).not.toBe(pw);
    expect(passwordCredential(keys.session, 'ops', 'the-old-password')).not.toBe(pw);
    expect(passwordCredential(otherKeys.session, 'admin', 'the-old-password')).not.toBe(pw);
    expect(pw).not.toContain('old-password');
  });

  it.each([
    ['a password session of the current password and generation', { cred: pw, epoch: 3 }, base, true],
    ['a password session after the password changed', { cred: pw, epoch: 3 }, { ...base, passwordCredential: 'password:other' }, false],
    ['a password session once password login is off', { cred: pw, epoch: 3 }, { ...base, passwordCredential: undefined }, false],
    ['a session from before "log out every session"', { cred: pw, epoch: 2 }, base, false],
    ['a logged-out session', { cred: pw, epoch: 3 }, { ...base, revoked: true }, false],
    [
      'a permanent-link session whose link stands',
      { cred: magicLinkCredential('L1', true), epoch: 3 },
      { ...base, linkActive: true },
      true,
    ],
    [
      'a permanent-link session whose link was revoked',
      { cred: magicLinkCredential('L1', true), epoch: 3 },
      { ...base, linkActive: false },
      false,
    ],
    ['a one-shot-link session', { cred: magicLinkCredential('L2', false), epoch: 3 }, base, true],
    ['a one-shot-link session after "log out every session"', { cred: magicLinkCredential('L2', false), epoch: 1 }, base, false],
    ['an unknown credential kind', { cred: 'api-key:x', epoch: 3 }, base, false],
  ])('%s → %s', (_label, claims, facts, expected) => {
    expect(sessionBindingHolds(claims, facts)).toBe(expected);
  });

  it('only permanent links are looked up by id', () => {
    expect(boundMagicLinkId({ cred: magicLinkCredential('abc', true) })).toBe('abc');
    expect(boundMagicLinkId({ cred: magicLinkCredential('abc', false) })).toBeUndefined();
    expect(boundMagicLinkId({ cred: pw })).toBeUndefined();
  });

  it('a token without a binding (made before bindings existed) is refused', async () => {
    const legacy = await new SignJWT({ csrf: 'c', via: 'password' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(SESSION_AUDIENCE)
      .setSubject('admin')
      .setJti('j')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(keys.session);
    expect(await verifySession(keys.session, legacy)).toBeNull();
  });
});

describe('log out every session (real Redis)', () => {
  const { redis, prefix } = useTestRedis('epoch');

  it('starts at generation 0 and moves on by one per call', async () => {
    const revocations = createSessionRevocations({ redis, prefix });
    expect(await revocations.currentEpoch()).toBe(0);
    expect(await revocations.revokeAll()).toBe(1);
    expect(await revocations.revokeAll()).toBe(2);
    expect(await revocations.currentEpoch()).toBe(2);
    expect(await redis.get(`${prefix}:auth:session:epoch`)).toBe('2');
  });
});
