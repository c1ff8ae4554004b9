import { describe, expect, it } from '@jest/globals';
import { constantTimeEqual, csrfTokensMatch, newCsrfToken } from './csrf';
import { safeNextPath } from './next-path';

describe('CSRF tokens', () => {
  it('are 256-bit base64url and unique', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => newCsrfToken()));
    expect(tokens.size).toBe(50);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  const token = newCsrfToken();
  it.each([
    ['same token', token, token, true],
    ['different token', token, newCsrfToken(), false],
    ['missing header', token, undefined, false],
    ['empty header', token, '', false],
    ['no session token', undefined, token, false],
    ['prefix', token, token.slice(0, 20), false],
  ])('%s → %s', (_label, expected, presented, result) => {
    expect(csrfTokensMatch(expected, presented)).toBe(result);
  });

  it.each([
    ['a', 'a', true],
    ['a', 'b', false],
    ['', '', true],
    ['abc', 'abcd', false],
  ])('constantTimeEqual(%j, %j) = %s', (a, b, expected) => {
    expect(constantTimeEqual(a, b)).toBe(expected);
  });
});

describe('safeNextPath', () => {
  it.each([
    [undefined, '/dashboard'],
    ['', '/dashboard'],
    ['/dashboard#rules', '/dashboard#rules'],
    ['/admin/queues', '/admin/queues'],
    ['/admin/queues/queue/delivery?status=failed', '/admin/queues/queue/delivery?status=failed'],
    ['https://evil.example/', '/dashboard'],
    ['//evil.example/', '/dashboard'],
    ['/\\evil.example/', '/dashboard'],
    ['/\t/evil.example/', '/dashboard'],
    ['javascript:alert(1)', '/dashboard'],
    ['dashboard', '/dashboard'],
    ['/login', '/dashboard'],
    ['/logout', '/dashboard'],
    [42, '/dashboard'],
  ])('%j → %s', (input, expected) => {
    expect(safeNextPath(input)).toBe(expected);
  });
});
