import { describe, expect, it } from '@jest/globals';
import { DEFAULT_ALLOWED_HOSTS, parseAllowedHosts, readSettings } from './settings';
import { checkSourceUrl, isHostAllowed } from './source-policy';

const productionPolicy = { allowedHosts: [...DEFAULT_ALLOWED_HOSTS], allowHttpSources: false };

describe('checkSourceUrl with the default allowlist', () => {
  it.each([
    'https://www.dropbox.com/scl/fi/abc/file.zip?dl=1&rlkey=x',
    'https://dropbox.com/s/abc/file.zip?dl=1',
    'https://uc123.dl.dropboxusercontent.com/cd/0/get/abc/file',
    'https://fromsmash.com/AbCdEf',
    'https://www.swisstransfer.com/d/1234',
    'https://we.tl.wetransfer.com/x',
    'https://DROPBOX.COM./s/abc/file.zip',
  ])('allows %s', (url) => {
    expect(checkSourceUrl(url, productionPolicy)).toMatchObject({ allowed: true });
  });

  it.each([
    ['http://www.dropbox.com/s/abc/file.zip', 'scheme_not_allowed'],
    ['ftp://dropbox.com/file.zip', 'scheme_not_allowed'],
    ['https://evil.com/dropbox.com/file.zip', 'host_not_allowed'],
    ['https://dropbox.com.evil.com/file.zip', 'host_not_allowed'],
    ['https://notdropbox.com/file.zip', 'host_not_allowed'],
    ['https://127.0.0.1/file.zip', 'host_not_allowed'],
    ['https://169.254.169.254/latest/meta-data', 'host_not_allowed'],
    ['https://dropbox.com@evil.com/file.zip', 'credentials_in_url'],
    ['https://user:pass@www.dropbox.com/file.zip', 'credentials_in_url'],
    ['not a url', 'invalid_url'],
  ])('refuses %s (%s)', (url, reason) => {
    expect(checkSourceUrl(url, productionPolicy)).toEqual({ allowed: false, reason });
  });

  it('allows plain http only when the deployment opts in', () => {
    const testPolicy = { allowedHosts: ['127.0.0.1'], allowHttpSources: true };
    expect(checkSourceUrl('http://127.0.0.1:8080/files/a.bin', testPolicy)).toMatchObject({ allowed: true });
    expect(checkSourceUrl('http://127.0.0.1:8080/files/a.bin', { ...testPolicy, allowHttpSources: false })).toEqual({
      allowed: false,
      reason: 'scheme_not_allowed',
    });
  });
});

describe('isHostAllowed', () => {
  it.each([
    ['dropbox.com', true],
    ['a.b.dropbox.com', true],
    ['xdropbox.com', false],
    ['dropbox.co', false],
    ['', false],
  ])('%s → %s', (host, allowed) => {
    expect(isHostAllowed(host, DEFAULT_ALLOWED_HOSTS)).toBe(allowed);
  });
});

describe('settings', () => {
  it.each([
    [undefined, [...DEFAULT_ALLOWED_HOSTS]],
    ['', [...DEFAULT_ALLOWED_HOSTS]],
    ['127.0.0.1', ['127.0.0.1']],
    ['Example.com, *.files.test\n.cdn.test', ['example.com', 'files.test', 'cdn.test']],
  ])('ALLOWED_HOSTS %j → %j', (value, hosts) => {
    expect(parseAllowedHosts(value)).toEqual(hosts);
  });

  it('applies defaults and bounds', () => {
    expect(readSettings({})).toMatchObject({
      token: undefined,
      publicBaseUrl: undefined,
      allowHttpSources: false,
      maxBytes: 2 * 1024 * 1024 * 1024,
      maxAgeDays: 7,
      partBytes: 8 * 1024 * 1024,
      cleanupPageSize: 1000,
    });
    expect(
      readSettings({
        R2_FETCH_TOKEN: ' t ',
        PUBLIC_BASE_URL: 'https://cdn.test/',
        ALLOW_HTTP_SOURCES: 'true',
        MAX_BYTES: '1000',
        MAX_AGE_DAYS: '0.5',
        MULTIPART_PART_BYTES: '1024',
        CLEANUP_PAGE_SIZE: '5000',
      }),
    ).toMatchObject({
      token: 't',
      publicBaseUrl: 'https://cdn.test',
      allowHttpSources: true,
      maxBytes: 1000,
      maxAgeDays: 0.5,
      partBytes: 5 * 1024 * 1024,
      cleanupPageSize: 1000,
    });
    expect(readSettings({ MAX_BYTES: 'lots', MAX_AGE_DAYS: '-1' })).toMatchObject({ maxBytes: 2 * 1024 ** 3, maxAgeDays: 7 });
  });
});
