import { describe, expect, it } from '@jest/globals';
import { objectKeyProblem, publicUrlFor, validateFetchRequest } from './fetch-request';

const valid = {
  source_url: 'https://www.dropbox.com/scl/fi/abc/file.zip?dl=1&rlkey=x',
  object_key: 'dropbox/0123abcd/89ef4567/file.zip',
  bucket: 'render-signal-offload',
  provider: 'dropbox',
  email_id: 'd41d8cd98f00b204e9800998ecf8427e',
};

describe('validateFetchRequest', () => {
  it('accepts the client contract and trims', () => {
    expect(validateFetchRequest({ ...valid, source_url: ` ${valid.source_url} ` })).toEqual({ ok: true, request: valid });
  });

  it.each([null, undefined, ''])('treats email_id %j as absent', (email_id) => {
    const result = validateFetchRequest({ ...valid, email_id });
    expect(result).toEqual({ ok: true, request: { ...valid, email_id: undefined } });
    expect(result.ok && 'email_id' in result.request).toBe(false);
  });

  it.each([
    ['not an object', ['x'], 'body must be a JSON object'],
    ['no source_url', { ...valid, source_url: undefined }, 'source_url is required'],
    ['unparseable source_url', { ...valid, source_url: 'dropbox.com/file' }, 'source_url is not a valid URL'],
    ['upper-case provider', { ...valid, provider: 'Dropbox' }, 'provider must be a lower-case identifier'],
    ['no object_key', { ...valid, object_key: '' }, 'object_key is required'],
    ['dot-dot filename', { ...valid, object_key: 'dropbox/0123abcd/89ef4567/..' }, 'object_key must not contain ".."'],
    ['dot-dot segment', { ...valid, object_key: 'dropbox/../89ef4567/file.zip' }, 'object_key must not contain ".."'],
    [
      'extra segment',
      { ...valid, object_key: 'dropbox/0123abcd/89ef4567/a/file.zip' },
      'object_key must look like <provider>/<8 hex>/<8 hex>/<filename>',
    ],
    [
      'short hash',
      { ...valid, object_key: 'dropbox/0123abc/89ef4567/file.zip' },
      'object_key must look like <provider>/<8 hex>/<8 hex>/<filename>',
    ],
    [
      'upper-case hash',
      { ...valid, object_key: 'dropbox/0123ABCD/89ef4567/file.zip' },
      'object_key must look like <provider>/<8 hex>/<8 hex>/<filename>',
    ],
    [
      'leading slash',
      { ...valid, object_key: '/dropbox/0123abcd/89ef4567/file.zip' },
      'object_key must look like <provider>/<8 hex>/<8 hex>/<filename>',
    ],
    ['control character', { ...valid, object_key: 'dropbox/0123abcd/89ef4567/fi\nle.zip' }, 'object_key contains forbidden characters'],
    ['backslash', { ...valid, object_key: 'dropbox/0123abcd/89ef4567/a\\b.zip' }, 'object_key contains forbidden characters'],
    ['other provider in key', { ...valid, object_key: 'fromsmash/0123abcd/89ef4567/file.zip' }, 'object_key must start with the provider'],
    ['no bucket', { ...valid, bucket: ' ' }, 'bucket is required'],
    ['numeric email_id', { ...valid, email_id: 42 }, 'email_id must be a short string'],
  ])('refuses %s', (_case, body, reason) => {
    expect(validateFetchRequest(body)).toEqual({ ok: false, reason });
  });

  it('refuses keys over R2’s 1024-byte limit', () => {
    expect(objectKeyProblem(`dropbox/0123abcd/89ef4567/${'é'.repeat(510)}`)).toBe('object_key is longer than 1024 bytes');
  });
});

describe('publicUrlFor', () => {
  it.each([
    ['dropbox/0123abcd/89ef4567/file.zip', 'https://cdn.test/dropbox/0123abcd/89ef4567/file.zip'],
    ['dropbox/0123abcd/89ef4567/my file#1.zip', 'https://cdn.test/dropbox/0123abcd/89ef4567/my%20file%231.zip'],
    ['dropbox/0123abcd/89ef4567/résumé.pdf', 'https://cdn.test/dropbox/0123abcd/89ef4567/r%C3%A9sum%C3%A9.pdf'],
  ])('%s', (key, url) => {
    expect(publicUrlFor('https://cdn.test', key)).toBe(url);
  });
});
