import { describe, expect, it } from '@jest/globals';
import { containsProviderLink, extractDeliveryLinks } from './link-extraction';
import {
  ALL_PROVIDERS,
  DEFAULT_PROVIDERS,
  isDropboxLogoAsset,
  KNOWN_PROVIDER_IDS,
  OPTIONAL_PROVIDERS,
  providerForUrl,
  resolveProviders,
  UnknownProviderError,
} from './link-providers';

const urls = (body: string, providers = DEFAULT_PROVIDERS) => extractDeliveryLinks(body, providers).map((link) => link.raw_url);

describe('extractDeliveryLinks: providers and URL boundaries', () => {
  it.each([
    [
      'dropbox',
      'see https://www.dropbox.com/scl/fo/abc/def?rlkey=k&dl=0 now',
      [['dropbox', 'https://www.dropbox.com/scl/fo/abc/def?rlkey=k&dl=0']],
    ],
    ['fromsmash', 'https://fromsmash.com/Xy-z', [['fromsmash', 'https://fromsmash.com/Xy-z']]],
    ['swisstransfer', 'https://www.swisstransfer.com/d/1-2-3', [['swisstransfer', 'https://www.swisstransfer.com/d/1-2-3']]],
    ['http and upper case kept as written', 'HTTP://DROPBOX.COM/S/X', [['dropbox', 'HTTP://DROPBOX.COM/S/X']]],
    ['ends at <', '<a href=x>https://fromsmash.com/a</a>', [['fromsmash', 'https://fromsmash.com/a']]],
    ['ends at "', '<a href="https://fromsmash.com/a">x</a>', [['fromsmash', 'https://fromsmash.com/a']]],
    ['ends at >', 'https://fromsmash.com/a>b', [['fromsmash', 'https://fromsmash.com/a']]],
    ['ends at a tab', 'https://fromsmash.com/a\tb', [['fromsmash', 'https://fromsmash.com/a']]],
    ['ends at NBSP', 'https://fromsmash.com/a\u00a0b', [['fromsmash', 'https://fromsmash.com/a']]],
    ['trailing punctuation is kept', 'voir https://fromsmash.com/a. Merci', [['fromsmash', 'https://fromsmash.com/a.']]],
    ["trailing ' and ) are kept", "'https://fromsmash.com/a')", [['fromsmash', "https://fromsmash.com/a')"]]],
    ['bare domain matches', 'https://www.dropbox.com', [['dropbox', 'https://www.dropbox.com']]],
    [
      'domain followed by more host (original semantics)',
      'https://dropbox.com.evil.test/x',
      [['dropbox', 'https://dropbox.com.evil.test/x']],
    ],
    ['other subdomains do not match', 'https://dl.dropboxusercontent.com/x https://app.fromsmash.com/x', []],
    ['no scheme, no link', 'www.dropbox.com/scl/fo/abc', []],
    ['wetransfer is not a default provider', 'https://wetransfer.com/downloads/x', []],
    ['empty body', '', []],
  ])('%s', (_case, body, expected) => {
    expect(extractDeliveryLinks(body).map((link) => [link.provider, link.raw_url])).toEqual(expected);
  });
});

describe('extractDeliveryLinks: HTML unescape and dedup', () => {
  it('collapses an href with &amp; and the same plain-text URL into one [VERIFIED]', () => {
    const body =
      '<a href="https://www.dropbox.com/scl/fo/abc/x?rlkey=k&amp;dl=0">lien</a> ou https://www.dropbox.com/scl/fo/abc/x?rlkey=k&dl=0';
    expect(extractDeliveryLinks(body)).toEqual([{ provider: 'dropbox', raw_url: 'https://www.dropbox.com/scl/fo/abc/x?rlkey=k&dl=0' }]);
  });

  it.each([
    ['numeric entity', 'https://fromsmash.com/a&#45;b', 'https://fromsmash.com/a-b'],
    ['legacy entity without semicolon (Python html.unescape)', 'https://fromsmash.com/a?x=1&para=2', 'https://fromsmash.com/a?x=1¶=2'],
    ['&quot; inside the URL text', 'https://fromsmash.com/a&quot;b', 'https://fromsmash.com/a"b'],
    ['double-escaped stays single-escaped', 'https://fromsmash.com/a?x=1&amp;amp;y=2', 'https://fromsmash.com/a?x=1&amp;y=2'],
  ])('%s', (_case, body, expected) => {
    expect(urls(body)).toEqual([expected]);
  });

  it('keeps the first occurrence and the order of appearance', () => {
    const body = [
      'https://www.swisstransfer.com/d/2',
      'https://fromsmash.com/1',
      'https://www.swisstransfer.com/d/2',
      'https://www.dropbox.com/scl/fo/3',
      'https://fromsmash.com/1',
    ].join(' ');
    expect(urls(body)).toEqual(['https://www.swisstransfer.com/d/2', 'https://fromsmash.com/1', 'https://www.dropbox.com/scl/fo/3']);
  });

  it('dedup is exact: case or trailing punctuation make a different link', () => {
    expect(urls('https://fromsmash.com/a https://fromsmash.com/A https://fromsmash.com/a.')).toHaveLength(3);
  });
});

describe('Dropbox logo filter', () => {
  it.each([
    ['MS.png raw=1', 'https://www.dropbox.com/scl/fi/abc/MS.png?rlkey=x&raw=1', true],
    ['logo prefix, &amp; in the href', 'https://www.dropbox.com/scl/fi/abc/logo-small.JPG?rlkey=x&amp;raw=1', true],
    ['avatar.webp', 'https://www.dropbox.com/scl/fi/abc/avatar.webp?raw=1', true],
    ['profile picture gif', 'https://www.dropbox.com/scl/fi/abc/profile_pic.gif?raw=1', true],
    ['msxyz.jpeg (prefix match)', 'https://www.dropbox.com/scl/fi/abc/msxyz.jpeg?raw=1', true],
    ['raw value with spaces', 'https://www.dropbox.com/scl/fi/abc/ms.png?raw=%201', true],
    ['no raw=1', 'https://www.dropbox.com/scl/fi/abc/MS.png?rlkey=x&dl=0', false],
    ['raw=0', 'https://www.dropbox.com/scl/fi/abc/MS.png?raw=0', false],
    ['not an image', 'https://www.dropbox.com/scl/fi/abc/ms.zip?raw=1', false],
    ['other file name', 'https://www.dropbox.com/scl/fi/abc/photo_ms.png?raw=1', false],
    ['shared folder, not /scl/fi/', 'https://www.dropbox.com/scl/fo/abc/MS.png?raw=1', false],
    ['no file name', 'https://www.dropbox.com/scl/fi/?raw=1', false],
  ])('%s → skipped %s', (_case, url, skipped) => {
    expect(urls(`<img src="${url}">`)).toEqual(skipped ? [] : [url.replace('&amp;', '&')]);
  });

  it('only applies to Dropbox hosts', () => {
    expect(isDropboxLogoAsset('https://fromsmash.com/scl/fi/abc/MS.png?raw=1')).toBe(false);
    expect(isDropboxLogoAsset('not a url')).toBe(false);
  });
});

describe('opt-in providers', () => {
  const all = ALL_PROVIDERS;
  it.each([
    ['wetransfer', 'https://wetransfer.com/downloads/abc/def', 'wetransfer'],
    ['wetransfer subdomain', 'https://acme.wetransfer.com/downloads/abc', 'wetransfer'],
    ['we.tl short link', 'https://we.tl/t-AbCd', 'wetransfer'],
    ['google drive file', 'https://drive.google.com/file/d/abc/view?usp=sharing', 'google_drive'],
    ['google docs', 'https://docs.google.com/document/d/abc', 'google_drive'],
  ])('%s', (_case, url, provider) => {
    expect(extractDeliveryLinks(`x ${url} y`, all)).toEqual([{ provider, raw_url: url }]);
  });

  it.each([
    ['look-alike host', 'https://wetransfer.community/x'],
    ['google but not drive', 'https://mail.google.com/x'],
    ['prefix host', 'https://notwe.tl/x'],
  ])('does not take %s', (_case, url) => {
    expect(extractDeliveryLinks(url, all)).toEqual([]);
  });

  it('a provider missing from the list is not extracted', () => {
    expect(extractDeliveryLinks('https://fromsmash.com/a https://we.tl/t-1', resolveProviders(['wetransfer']))).toEqual([
      { provider: 'wetransfer', raw_url: 'https://we.tl/t-1' },
    ]);
  });

  it('an empty provider list extracts nothing', () => {
    expect(extractDeliveryLinks('https://fromsmash.com/a', [])).toEqual([]);
    expect(containsProviderLink('https://fromsmash.com/a', [])).toBe(false);
  });
});

describe('containsProviderLink', () => {
  it.each([
    ['https://fromsmash.com/a', true],
    ['HTTPS://www.SwissTransfer.com/d/x', true],
    ['fromsmash.com/a', false],
    ['https://wetransfer.com/a', false],
  ])('%s → %s', (text, expected) => {
    // Repeated calls give the same answer (the shared global regex is reset).
    expect(containsProviderLink(text)).toBe(expected);
    expect(containsProviderLink(text)).toBe(expected);
  });
});

describe('resolveProviders / providerForUrl', () => {
  it('resolves ids in the given order, ignoring case and duplicates', () => {
    expect(resolveProviders(['SwissTransfer', 'dropbox', 'dropbox', ' google_drive ']).map((p) => p.id)).toEqual([
      'swisstransfer',
      'dropbox',
      'google_drive',
    ]);
  });

  it('refuses unknown ids', () => {
    expect(() => resolveProviders(['dropbox', 'mega'])).toThrow(UnknownProviderError);
    expect(() => resolveProviders(['mega'])).toThrow(/mega/);
  });

  it('knows the default and optional sets', () => {
    expect(DEFAULT_PROVIDERS.map((p) => p.id)).toEqual(['dropbox', 'fromsmash', 'swisstransfer']);
    expect(OPTIONAL_PROVIDERS.map((p) => p.id)).toEqual(['wetransfer', 'google_drive']);
    expect(KNOWN_PROVIDER_IDS).toHaveLength(5);
    expect(ALL_PROVIDERS.filter((p) => !p.offloadAllowed).map((p) => p.id)).toEqual(['google_drive']);
  });

  it.each([
    ['https://www.dropbox.com/scl/fo/x', 'dropbox'],
    ['https://DL.DROPBOX.COM/x', 'dropbox'],
    ['https://eu.fromsmash.com/x', 'fromsmash'],
    ['https://we.tl/t-x', 'wetransfer'],
    ['https://dropbox.com.evil.test/x', undefined],
    ['https://notdropbox.com/x', undefined],
    ['::not a url', undefined],
  ])('providerForUrl(%s) → %s', (url, id) => {
    expect(providerForUrl(url)?.id).toBe(id);
  });
});
