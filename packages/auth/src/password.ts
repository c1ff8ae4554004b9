import { pbkdf2, scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import { isWerkzeugHash } from '@render-signal/config';
import { constantTimeEqual } from './csrf';

export { isWerkzeugHash };

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (password: string, salt: string, keylen: number, options: object) => Promise<Buffer>;

/** Hash names werkzeug's pbkdf2 may carry, with their digest sizes (werkzeug keeps the default dklen). */
const PBKDF2_DIGESTS: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };
const MAX_PBKDF2_ITERATIONS = 10_000_000;

/**
 * Checks a password against a werkzeug hash: `pbkdf2:<hash>:<iterations>$<salt>$<hex>` (werkzeug < 3)
 * or `scrypt:<n>:<r>:<p>$<salt>$<hex>` (werkzeug ≥ 3). Unknown or malformed hashes never match.
 */
export async function verifyWerkzeugHash(hash: string, password: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 3) return false;
  const [method = '', salt = '', expectedHex = ''] = parts;
  if (!/^[0-9a-f]+$/i.test(expectedHex)) return false;
  const [name, ...args] = method.split(':');
  let actual: Buffer;
  if (name === 'pbkdf2') {
    const digest = args[0] ?? 'sha256';
    const iterations = Number(args[1] ?? 600_000);
    const keylen = PBKDF2_DIGESTS[digest];
    if (!keylen || !Number.isInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) return false;
    actual = await pbkdf2Async(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, keylen, digest);
  } else if (name === 'scrypt') {
    const [n, r, p] = args.length === 3 ? args.map(Number) : [2 ** 15, 8, 1];
    if (![n, r, p].every((v) => Number.isInteger(v) && (v as number) > 0) || (n as number) > 2 ** 20) return false;
    const N = n as number;
    const R = r as number;
    const P = p as number;
    actual = await scryptAsync(password, salt, expectedHex.length / 2, { N, r: R, p: P, maxmem: 132 * N * R * P + 1024 * 1024 });
  } else {
    return false;
  }
  return constantTimeEqual(actual.toString('hex'), expectedHex.toLowerCase());
}

export interface Credentials {
  /** TRIGGER_PAGE_USER. */
  user: string;
  /** TRIGGER_PAGE_PASSWORD (plain or werkzeug hash); undefined refuses every login. */
  password: string | undefined;
}

/**
 * The login check. The username is optional in the form (single operator); when given it must match.
 * Plain passwords are compared in constant time.
 */
export async function checkCredentials(credentials: Credentials, username: string | undefined, password: string): Promise<boolean> {
  if (!credentials.password || !password) return false;
  const userOk = username === undefined || username.trim() === '' || constantTimeEqual(username.trim(), credentials.user);
  const passwordOk = isWerkzeugHash(credentials.password)
    ? await verifyWerkzeugHash(credentials.password, password)
    : constantTimeEqual(password, credentials.password);
  return userOk && passwordOk;
}
