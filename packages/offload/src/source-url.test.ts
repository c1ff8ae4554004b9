import { describe, expect, it } from '@jest/globals';
import { filenameFromContentDisposition, attachmentDisposition } from './content-disposition';
import { offloadTimeoutFor } from './settings';
import { isAllowedSourceHost, sourcePolicyFrom } from './source-policy';
import { buildObjectKey, filenameFromUrl, normalizeSourceUrl } from './source-url';
import { parseWorkerAnswer } from './worker-transfer';
import { OffloadAbort } from './result';

// Expected values were produced by a Python port of the original's steps (html.unescape, urllib's
// unquote/urlsplit/quote/parse_qsl/urlencode), so object keys hash the same string the original sent.
describe('normalizeSourceUrl (Dropbox)', () => {
  it.each([
    [
      'spec example: &amp; unescaped, dl forced to 1, keys sorted',
      'https://www.dropbox.com/scl/fi/abc/file.png?rlkey=foo&amp;dl=0',
      'https://www.dropbox.com/scl/fi/abc/file.png?dl=1&rlkey=foo',
    ],
    ['spec example: dl=1 added', 'https://www.dropbox.com/s/abc/file.zip', 'https://www.dropbox.com/s/abc/file.zip?dl=1'],
    [
      'https forced, host lower-cased, :443 dropped, // collapsed, trailing / dropped, every dl dropped, fragment dropped',
      'http://WWW.Dropbox.COM:443//scl//fo/xyz/?rlkey=k&dl=0&dl=1#frag',
      'https://www.dropbox.com/scl/fo/xyz?dl=1&rlkey=k',
    ],
    [
      ':80 dropped with the forced https, upper-case DL dropped',
      'http://www.dropbox.com:80/s/a/f.zip?DL=0',
      'https://www.dropbox.com/s/a/f.zip?dl=1',
    ],
    ['a non-default port is kept', 'https://www.dropbox.com:8443/s/a/f.zip', 'https://www.dropbox.com:8443/s/a/f.zip?dl=1'],
    [
      'html-unescape runs before amp%3B (so &amp%3B leaves %3B, as in Python)',
      'https://www.dropbox.com/scl/fi/a/b.pdf?rlkey=x&amp%3Bdl=0',
      'https://www.dropbox.com/scl/fi/a/b.pdf?%3Bdl=0&dl=1&rlkey=x',
    ],
    [
      'double-escaped &amp;amp%3B becomes &',
      'https://www.dropbox.com/s/a/b.zip?rlkey=x&amp;amp%3Bst=2',
      'https://www.dropbox.com/s/a/b.zip?dl=1&rlkey=x&st=2',
    ],
    [
      'decoded up to 3 times when the result is a URL',
      'https%253A%252F%252Fwww.dropbox.com%252Fs%252Fabc%252Fmy%252520file.zip%253Fdl%253D0',
      'https://www.dropbox.com/s/abc/my%20file.zip?dl=1',
    ],
    [
      'empty values dropped except rlkey',
      'https://www.dropbox.com/scl/fi/a/b.pdf?rlkey=&foo=&bar=1&dl=0',
      'https://www.dropbox.com/scl/fi/a/b.pdf?bar=1&dl=1&rlkey=',
    ],
    [
      'pairs deduped, sorted by key case-insensitively then value',
      'https://www.dropbox.com/scl/fi/a/b.pdf?st=b&St=a&st=b&rlkey=k',
      'https://www.dropbox.com/scl/fi/a/b.pdf?dl=1&rlkey=k&St=a&st=b',
    ],
    [
      'path re-quoted (spaces, accents)',
      'https://www.dropbox.com/s/abc/Mon fichier é.zip?dl=0',
      'https://www.dropbox.com/s/abc/Mon%20fichier%20%C3%A9.zip?dl=1',
    ],
    [
      'already-quoted path unchanged',
      'https://www.dropbox.com/s/abc/Mon%20fichier%20%C3%A9.zip?dl=1',
      'https://www.dropbox.com/s/abc/Mon%20fichier%20%C3%A9.zip?dl=1',
    ],
    [
      'quote keeps only unreserved characters',
      "https://www.dropbox.com/s/abc/it's (1)*.zip",
      'https://www.dropbox.com/s/abc/it%27s%20%281%29%2A.zip?dl=1',
    ],
    ['a lone % is quoted', 'https://www.dropbox.com/s/abc/100%.zip', 'https://www.dropbox.com/s/abc/100%25.zip?dl=1'],
    [
      'query encoded like urlencode (+ for space)',
      'https://www.dropbox.com/scl/fi/a/b.pdf?rlkey=a+b&e=1%2B2',
      'https://www.dropbox.com/scl/fi/a/b.pdf?dl=1&e=1+2&rlkey=a+b',
    ],
    [
      'key without value kept only for rlkey',
      'https://www.dropbox.com/s/a/b.zip?k=v=w&&z&rlkey',
      'https://www.dropbox.com/s/a/b.zip?dl=1&k=v%3Dw&rlkey=',
    ],
    [
      'user info dropped, non-ASCII query re-encoded',
      'https://user:pw@www.dropbox.com/s/a/b.zip?x=%E2%82%AC&y=a;b',
      'https://www.dropbox.com/s/a/b.zip?dl=1&x=%E2%82%AC&y=a%3Bb',
    ],
    ['surrounding whitespace stripped', '  https://www.dropbox.com/s/abc/file.zip?dl=0  ', 'https://www.dropbox.com/s/abc/file.zip?dl=1'],
    [
      'dropboxusercontent host, unreserved characters kept',
      'https://dl.dropboxusercontent.com/s/abc/f~x_y-z.zip?dl=0&raw=1',
      'https://dl.dropboxusercontent.com/s/abc/f~x_y-z.zip?dl=1&raw=1',
    ],
  ])('%s', (_label, input, expected) => {
    expect(normalizeSourceUrl('dropbox', input)).toBe(expected);
  });

  it.each([
    'https://www.dropbox.com/scl/fi/abc/file.png?rlkey=foo&amp;dl=0',
    'http://WWW.Dropbox.COM:443//scl//fo/xyz/?rlkey=k&dl=0&dl=1#frag',
    'https://www.dropbox.com/s/abc/Mon fichier é.zip?st=b&St=a',
  ])('is idempotent: %s', (input) => {
    const once = normalizeSourceUrl('dropbox', input);
    expect(normalizeSourceUrl('dropbox', once)).toBe(once);
  });
});

describe('normalizeSourceUrl (other providers)', () => {
  it.each([
    ['fromsmash', '  https://fromsmash.com/abc?x=1&amp;y=2  ', 'https://fromsmash.com/abc?x=1&y=2'],
    ['swisstransfer', 'https://www.swisstransfer.com/d/UUID?dl=0', 'https://www.swisstransfer.com/d/UUID?dl=0'],
    ['wetransfer', 'HTTP://WeTransfer.com/downloads/a//b/', 'HTTP://WeTransfer.com/downloads/a//b/'],
  ])('%s: strip + unescape only', (provider, input, expected) => {
    expect(normalizeSourceUrl(provider, input)).toBe(expected);
  });
});

describe('buildObjectKey', () => {
  it.each([
    ['dropbox', 'https://www.dropbox.com/scl/fi/abc/file.png?dl=1&rlkey=foo', 'dropbox/a7209e52/634318eb/file.png'],
    ['dropbox', 'https://www.dropbox.com/s/abc/Mon%20fichier%20%C3%A9.zip?dl=1', 'dropbox/5bf31bf9/5629a1f7/Mon fichier é.zip'],
    ['fromsmash', 'https://fromsmash.com/abc', 'fromsmash/e5e28c8f/380d5b55/file'],
  ])('%s %s → %s', (provider, url, key) => {
    expect(buildObjectKey(provider, url)).toBe(key);
  });

  it('differs for different sources and is stable for the same one', () => {
    const a = buildObjectKey('dropbox', 'https://www.dropbox.com/s/a/x.zip?dl=1');
    expect(buildObjectKey('dropbox', 'https://www.dropbox.com/s/a/x.zip?dl=1')).toBe(a);
    expect(buildObjectKey('dropbox', 'https://www.dropbox.com/s/b/x.zip?dl=1')).not.toBe(a);
  });
});

describe('filenameFromUrl', () => {
  it.each([
    ['https://h/s/abc/report.pdf?dl=1', 'report.pdf'],
    ['https://h/scl/fo/folderid?rlkey=k', 'file'],
    ['https://h/', 'file'],
    ['https://h/a/%2e%2e', 'file'],
    ['https://h/a/evil%2F..%2Fx.zip', 'evil_.._x.zip'],
    ['https://h/a/quo%22te%0A.txt', 'quo_te_.txt'],
    [`https://h/a/${'n'.repeat(300)}.zip`, `${'n'.repeat(196)}.zip`],
  ])('%s → %s', (url, name) => {
    expect(filenameFromUrl(url)).toBe(name);
  });
});

describe('offloadTimeoutFor', () => {
  it.each([
    ['dropbox', 'https://www.dropbox.com/scl/fo/abc?dl=1', {}, 120_000],
    ['dropbox', 'https://www.dropbox.com/scl/fi/abc/f.zip?dl=1', {}, 15_000],
    ['fromsmash', 'https://fromsmash.com/abc', {}, 15_000],
    ['dropbox', 'https://www.dropbox.com/scl/fo/abc?dl=1', { timeouts: { dropboxFolderMs: 300_000 } }, 300_000],
    ['swisstransfer', 'https://www.swisstransfer.com/d/x', { timeouts: { defaultMs: 20_000 } }, 20_000],
    ['fromsmash', 'https://fromsmash.com/abc', { timeouts: { defaultMs: 20_000, byProvider: { fromsmash: 45_000 } } }, 45_000],
    ['FromSmash', 'https://fromsmash.com/abc', { timeouts: { byProvider: { fromsmash: 45_000 } } }, 45_000],
  ])('%s %s %j → %d ms', (provider, url, settings, expected) => {
    expect(offloadTimeoutFor(provider, url, settings)).toBe(expected);
  });
});

describe('isAllowedSourceHost', () => {
  const { allowedHosts } = sourcePolicyFrom({});
  it.each([
    ['www.dropbox.com', true],
    ['dropbox.com', true],
    ['DL.DropboxUserContent.com', true],
    ['fromsmash.com', true],
    ['eu.wetransfer.com', true],
    ['www.swisstransfer.com.', true],
    ['evildropbox.com', false],
    ['dropbox.com.evil.net', false],
    ['example.com', false],
    ['127.0.0.1', false],
  ])('%s → %s', (host, allowed) => {
    expect(isAllowedSourceHost(host, allowedHosts)).toBe(allowed);
  });
});

describe('Content-Disposition', () => {
  it.each([
    ['attachment; filename="report.pdf"', 'report.pdf'],
    ['attachment; filename="fallback.pdf"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9.pdf', 'résumé.pdf'],
    ['attachment; filename=plain.zip', 'plain.zip'],
    ['attachment; filename="../../etc/passwd"', '.._.._etc_passwd'],
    ['inline', undefined],
    [undefined, undefined],
  ])('%s → %s', (header, name) => {
    expect(filenameFromContentDisposition(header)).toBe(name);
  });

  it('writes an ASCII fallback and the UTF-8 name', () => {
    expect(attachmentDisposition('résumé "v2".pdf')).toBe(
      `attachment; filename="r_sum_ _v2_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf`,
    );
    expect(filenameFromContentDisposition(attachmentDisposition('résumé.pdf'))).toBe('résumé.pdf');
  });
});

describe('parseWorkerAnswer', () => {
  it.each([
    [200, '{"success":true,"r2_url":"https://cdn/x","original_filename":"a.zip"}', { r2_url: 'https://cdn/x', original_filename: 'a.zip' }],
    [200, '{"success":true,"r2_url":"https://cdn/x","original_filename":"  "}', { r2_url: 'https://cdn/x' }],
    [200, '{"success":true,"r2_url":"https://cdn/x","original_filename":7}', { r2_url: 'https://cdn/x' }],
  ])('%d %s → accepted', (status, body, expected) => {
    expect(parseWorkerAnswer(status, body)).toEqual(expected);
  });

  it.each([
    [200, '{"r2_url":"https://cdn/x"}', 'worker_bad_answer'],
    [200, '{"success":"true","r2_url":"https://cdn/x"}', 'worker_bad_answer'],
    [200, '{"success":true}', 'worker_bad_answer'],
    [200, '{"success":true,"r2_url":42}', 'worker_bad_answer'],
    [200, 'not json', 'worker_bad_answer'],
    [200, 'null', 'worker_bad_answer'],
    [201, '{"success":true,"r2_url":"https://cdn/x"}', 'worker_error'],
    [401, '{"error":"unauthorized"}', 'worker_error'],
    [502, '', 'worker_error'],
  ])('%d %s → %s', (status, body, reason) => {
    const answer = parseWorkerAnswer(status, body);
    expect(answer).toBeInstanceOf(OffloadAbort);
    expect((answer as OffloadAbort).reason).toBe(reason);
  });
});
