import { describe, expect, it } from '@jest/globals';
import { checkCredentials, isWerkzeugHash, verifyWerkzeugHash } from './password';

// Vectors computed with Python's hashlib exactly as werkzeug's generate_password_hash does.
const PASSWORD = 's3cret-pässword';
const PBKDF2_SHA256 = 'pbkdf2:sha256:1000$AbCdEfGh12345678$3466489be683608f42044ea9d365128a3dff145bc04cacfe67d31c328185d40f';
const PBKDF2_SHA1 = 'pbkdf2:sha1:2000$AbCdEfGh12345678$00862b1187c184bd273891e12dc4d13662aabc0d';
const SCRYPT =
  'scrypt:1024:8:1$AbCdEfGh12345678$96d0763cfcd948185de69c5258ab7bc7abdcb95a5536466b13b24f9c222f436c7d992337d9c5670e2cfa75ee8cc992bc1c288dabf4866fe621fb50fb2c9ea4c9';

describe('isWerkzeugHash (the original rule: contains $ and ≥ 20 chars)', () => {
  it.each([
    [PBKDF2_SHA256, true],
    ['a$b', false],
    ['plain-password-without-dollar-sign', false],
    ['pa$$word-is-twenty-chars', true],
  ])('%s → %s', (value, expected) => {
    expect(isWerkzeugHash(value)).toBe(expected);
  });
});

describe('verifyWerkzeugHash', () => {
  it.each([
    ['pbkdf2 sha256', PBKDF2_SHA256, PASSWORD, true],
    ['pbkdf2 sha1', PBKDF2_SHA1, PASSWORD, true],
    ['scrypt', SCRYPT, PASSWORD, true],
    ['pbkdf2 wrong password', PBKDF2_SHA256, 's3cret-password', false],
    ['scrypt wrong password', SCRYPT, 'nope', false],
    ['tampered digest', PBKDF2_SHA256.replace(/.$/, '0'), PASSWORD, false],
    ['unknown method', 'md5:1$AbCdEfGh12345678$abcdef', PASSWORD, false],
    ['unknown pbkdf2 digest', 'pbkdf2:whirlpool:1000$salt$abcdef', PASSWORD, false],
    ['absurd iteration count', 'pbkdf2:sha256:999999999$salt$abcdef', PASSWORD, false],
    ['missing part', 'pbkdf2:sha256:1000$3466489be683608f', PASSWORD, false],
    ['non-hex digest', 'pbkdf2:sha256:1000$salt$zzzz', PASSWORD, false],
  ])('%s', async (_label, hash, password, expected) => {
    expect(await verifyWerkzeugHash(hash, password)).toBe(expected);
  });
});

describe('checkCredentials', () => {
  const plain = { user: 'admin', password: 'correct horse' };
  it.each([
    ['right password, no username', plain, undefined, 'correct horse', true],
    ['right password, empty username', plain, '', 'correct horse', true],
    ['right password and username', plain, 'admin', 'correct horse', true],
    ['wrong username', plain, 'root', 'correct horse', false],
    ['wrong password', plain, 'admin', 'correct horsE', false],
    ['prefix of the password', plain, undefined, 'correct', false],
    ['empty password', plain, undefined, '', false],
    ['no password configured refuses everything', { user: 'admin', password: undefined }, 'admin', '', false],
    ['werkzeug hash configured', { user: 'admin', password: PBKDF2_SHA256 }, 'admin', PASSWORD, true],
    ['the hash itself is not the password', { user: 'admin', password: PBKDF2_SHA256 }, 'admin', PBKDF2_SHA256, false],
  ])('%s', async (_label, credentials, username, password, expected) => {
    expect(await checkCredentials(credentials, username, password)).toBe(expected);
  });
});
