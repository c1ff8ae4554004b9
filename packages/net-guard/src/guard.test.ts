import { describe, expect, it } from '@jest/globals';
import { assertPublicUrl, BlockedUrlError, checkUrlShape, guardedLookup, isPublicAddress } from './index';

describe('isPublicAddress', () => {
  it.each([
    ['127.0.0.1', false],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['::1', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    // IPv4-compatible IPv6 (::/96, deprecated): ::7f00:1 is ::127.0.0.1 and reaches loopback on some stacks.
    ['::7f00:1', false],
    ['::127.0.0.1', false],
    ['::a9fe:a9fe', false],
    ['::a00:1', false],
    ['::808:808', false],
    ['::', false],
    ['0:0:0:0:0:0:7f00:1', false],
    // Other IPv4-embedding blocks stay refused: NAT64 (64:ff9b::/96), SIIT (::ffff:0:0:0/96), 6to4.
    ['64:ff9b::7f00:1', false],
    ['::ffff:0:7f00:1', false],
    ['2002:7f00:1::1', false],
    // Just outside ::/96: ordinary global unicast stays public.
    ['2001:4860:4860::8888', true],
    ['8.8.8.8', true],
    ['2606:4700:4700::1111', true],
    ['not-an-ip', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('checkUrlShape', () => {
  const strict = { allowPrivateNetwork: false };
  it.each([
    ['http://hook.eu2.make.com/x', 'scheme_not_allowed'],
    ['ftp://example.org/x', 'scheme_not_allowed'],
    ['https://127.0.0.1/x', 'private_address'],
    ['https://[::1]/x', 'private_address'],
    ['https://[::7f00:1]/x', 'private_address'],
    ['https://[::127.0.0.1]:8443/x', 'private_address'],
    ['https://169.254.169.254/latest/meta-data', 'private_address'],
    ['not a url', 'invalid_url'],
  ])('refuses %s (%s)', (url, reason) => {
    expect(() => checkUrlShape(url, strict)).toThrow(BlockedUrlError);
    try {
      checkUrlShape(url, strict);
    } catch (error) {
      expect((error as BlockedUrlError).reason).toBe(reason);
    }
  });
  it('allows http and loopback when private networking is allowed', () => {
    expect(checkUrlShape('http://127.0.0.1:8080/hook', { allowPrivateNetwork: true }).port).toBe('8080');
  });
});

describe('name resolution', () => {
  it('refuses a DNS name that resolves to loopback', async () => {
    await expect(assertPublicUrl('https://localhost/hook', { allowPrivateNetwork: false })).rejects.toMatchObject({
      reason: 'private_address',
    });
  });
  it('guardedLookup refuses loopback answers at connect time', async () => {
    const lookup = guardedLookup({ allowPrivateNetwork: false });
    const error = await new Promise((resolve) => lookup('localhost', {}, (err) => resolve(err)));
    expect(error).toBeInstanceOf(BlockedUrlError);
  });
  it('guardedLookup passes loopback when allowed', async () => {
    const lookup = guardedLookup({ allowPrivateNetwork: true });
    const address = await new Promise((resolve) => lookup('localhost', {}, (_err, addr) => resolve(addr)));
    expect(typeof address).toBe('string');
  });
});
