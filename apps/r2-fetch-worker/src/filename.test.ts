import { describe, expect, it } from '@jest/globals';
import { attachmentDisposition, filenameFromContentDisposition, filenameFromUrl, sanitizeFilename } from './filename';

describe('filenameFromContentDisposition', () => {
  it.each([
    [null, undefined],
    ['inline', undefined],
    ['attachment; filename="report.pdf"', 'report.pdf'],
    ['attachment; filename=report.pdf', 'report.pdf'],
    ['attachment; filename="a \\"quoted\\" name.txt"', 'a "quoted" name.txt'],
    ['attachment; filename="fallback.pdf"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9%20final.pdf', 'résumé final.pdf'],
    ['attachment; filename*=utf-8\'fr\'%E2%9C%93.txt; filename="x.txt"', '✓.txt'],
    ['attachment; filename*=UTF-8\'\'%E0%A4%A; filename="broken-encoding.txt"', 'broken-encoding.txt'],
    ['attachment; filename*=iso-8859-1\'\'caf%E9.txt; filename="cafe.txt"', 'cafe.txt'],
    ['attachment; filename="../../etc/passwd"', 'passwd'],
    ['attachment; filename="C:\\\\temp\\\\evil.exe"', 'evil.exe'],
    ['attachment; filename=".."', undefined],
  ])('%j → %j', (header, name) => {
    expect(filenameFromContentDisposition(header)).toBe(name);
  });
});

describe('filenameFromUrl', () => {
  it.each([
    ['https://www.dropbox.com/scl/fi/abc/My%20File.zip?dl=1', 'My File.zip'],
    ['https://fromsmash.com/AbCdEf/', 'AbCdEf'],
    ['https://example.com/', undefined],
    ['https://example.com/bad%E0%A4%A', 'bad%E0%A4%A'],
    ['not a url', undefined],
  ])('%s → %j', (url, name) => {
    expect(filenameFromUrl(url)).toBe(name);
  });
});

describe('sanitizeFilename', () => {
  it.each([
    ['  spaced.txt ', 'spaced.txt'],
    ['tab\there.txt', 'tabhere.txt'],
    ['dir/sub/name.txt', 'name.txt'],
    ['.', ''],
  ])('%j → %j', (raw, clean) => {
    expect(sanitizeFilename(raw)).toBe(clean);
  });

  it('caps the length at 255 characters', () => {
    expect(sanitizeFilename('a'.repeat(300))).toHaveLength(255);
  });
});

describe('attachmentDisposition', () => {
  it.each([
    ['file.zip', `attachment; filename="file.zip"; filename*=UTF-8''file.zip`],
    ['résumé final.pdf', `attachment; filename="r_sum_ final.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf`],
    [`it's "x".txt`, `attachment; filename="it's _x_.txt"; filename*=UTF-8''it%27s%20%22x%22.txt`],
  ])('%s', (name, header) => {
    expect(attachmentDisposition(name)).toBe(header);
  });

  it('round-trips through the parser', () => {
    const name = 'Dossier ✓ (v2) 100%.zip';
    expect(filenameFromContentDisposition(attachmentDisposition(name))).toBe(name);
  });
});
