import { createHash } from 'node:crypto';
import { decodeHTML } from 'entities';

/**
 * Source URL normalisation and object keys, ported from the original's r2_transfer_service (docs/original-behaviour.md, "File offload").
 * Parsing follows Python's urllib (split on the first `://`, `/`, `?`, `#`) rather than the WHATWG URL
 * parser, so the normalised string — and therefore the object key's SHA-256 — matches what the Python
 * service produced for the same link.
 */

const UTF8 = new TextDecoder('utf-8', { fatal: false });

/** Python's `urllib.parse.unquote`: decodes %XX runs as UTF-8 (invalid bytes → U+FFFD), leaves malformed escapes as-is. */
export function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = Number.parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return UTF8.decode(bytes);
  });
}

/** Python's `quote(text, safe)`: everything but `A-Za-z0-9_.-~` and `safe` becomes %XX of its UTF-8 bytes. */
function pythonQuote(text: string, safe: string): string {
  let out = '';
  for (const char of text) {
    if (/^[A-Za-z0-9_.~-]$/.test(char) || safe.includes(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Python's `quote_plus`, used by `urlencode`: spaces become `+`. */
function pythonQuotePlus(text: string): string {
  return pythonQuote(text, ' ').replace(/ /g, '+');
}

/** Python's `parse_qsl(query, keep_blank_values=True)`. */
function parseQueryPairs(query: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const rawKey = eq === -1 ? piece : piece.slice(0, eq);
    const rawValue = eq === -1 ? '' : piece.slice(eq + 1);
    pairs.push([percentDecode(rawKey.replace(/\+/g, ' ')), percentDecode(rawValue.replace(/\+/g, ' '))]);
  }
  return pairs;
}

interface SplitUrl {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
}

/** Python's `urlsplit` for absolute URLs (fragment dropped: the normalisation discards it). */
function splitUrl(url: string): SplitUrl {
  const schemeEnd = url.indexOf('://');
  const scheme = schemeEnd === -1 ? '' : url.slice(0, schemeEnd);
  let rest = schemeEnd === -1 ? url : url.slice(schemeEnd + 3);
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const netlocEnd = rest.search(/[/?]/);
  const netloc = netlocEnd === -1 ? rest : rest.slice(0, netlocEnd);
  rest = netlocEnd === -1 ? '' : rest.slice(netlocEnd);
  const queryStart = rest.indexOf('?');
  return {
    scheme,
    netloc,
    path: queryStart === -1 ? rest : rest.slice(0, queryStart),
    query: queryStart === -1 ? '' : rest.slice(queryStart + 1),
  };
}

/** Host (lower-cased, without user info) and port, like Python's `.hostname` / `.port`. */
function hostAndPort(netloc: string): { host: string; port: string | undefined } {
  const hostPort = netloc.slice(netloc.lastIndexOf('@') + 1);
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
  if (!match) return { host: hostPort.toLowerCase(), port: undefined };
  return { host: (match[1] ?? '').toLowerCase(), port: match[2] || undefined };
}

/**
 * HTML-unescape, `amp%3B` → `&`, then URL-decode up to 3 times (links wrapped by mail redirectors arrive
 * encoded once or twice); the decoded form is kept only if it still contains `://`.
 */
function unwrapEscapes(url: string): string {
  const unescaped = decodeHTML(url).replace(/amp%3B/g, '&');
  let decoded = unescaped;
  for (let round = 0; round < 3; round += 1) {
    const next = percentDecode(decoded);
    if (next === decoded) break;
    decoded = next;
  }
  return decoded.includes('://') ? decoded : unescaped;
}

function normalizeDropboxUrl(url: string): string {
  const { netloc, path: rawPath, query } = splitUrl(unwrapEscapes(url));
  const { host, port } = hostAndPort(netloc);
  // http→https is forced, so both schemes' default ports are meaningless in the result.
  const authority = port === undefined || port === '443' || port === '80' ? host : `${host}:${port}`;

  let path = rawPath.replace(/\/{2,}/g, '/');
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  path = pythonQuote(path, '/');

  const seen = new Set<string>();
  const pairs: Array<[string, string]> = [];
  for (const [key, value] of parseQueryPairs(query)) {
    const lowerKey = key.toLowerCase();
    if (lowerKey === 'dl') continue;
    if (value === '' && lowerKey !== 'rlkey') continue;
    const identity = `${key}\u0000${value}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    pairs.push([key, value]);
  }
  pairs.push(['dl', '1']);
  pairs.sort(([ka, va], [kb, vb]) => {
    const a = ka.toLowerCase();
    const b = kb.toLowerCase();
    if (a !== b) return a < b ? -1 : 1;
    if (va !== vb) return va < vb ? -1 : 1;
    return 0;
  });
  const encodedQuery = pairs.map(([k, v]) => `${pythonQuotePlus(k)}=${pythonQuotePlus(v)}`).join('&');
  return `https://${authority}${path}?${encodedQuery}`;
}

/**
 * The URL sent to the Worker / fetched in direct mode, and the cache identity of a link.
 * Dropbox links get the original's canonical form (forced download, stable query order); other
 * providers are only trimmed and HTML-unescaped, exactly as the original did.
 */
export function normalizeSourceUrl(provider: string, url: string): string {
  const trimmed = url.trim();
  if (provider.toLowerCase() === 'dropbox') return normalizeDropboxUrl(trimmed);
  return decodeHTML(trimmed);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const MAX_FILENAME_LENGTH = 200;

/** Object keys and Content-Disposition must not carry path separators, control characters or quotes. */
function isUnsafeInFilename(char: string): boolean {
  const code = char.charCodeAt(0);
  return code < 0x20 || code === 0x7f || char === '/' || char === '\\' || char === '"';
}

/** Makes a decoded file name safe as the last segment of an object key (and bounded: S3 keys are ≤ 1024 bytes). */
export function safeFilename(name: string): string {
  let safe = Array.from(name, (char) => (isUnsafeInFilename(char) ? '_' : char))
    .join('')
    .trim();
  if (safe === '' || safe === '.' || safe === '..') return 'file';
  if (safe.length > MAX_FILENAME_LENGTH) {
    const dot = safe.lastIndexOf('.');
    const extension = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : '';
    safe = safe.slice(0, MAX_FILENAME_LENGTH - extension.length) + extension;
  }
  return safe;
}

/** The original's rule: the URL-decoded last path segment when it contains a ".", else `file`. */
export function filenameFromUrl(url: string): string {
  const { path } = splitUrl(url);
  const segments = path.split('/').filter((segment) => segment !== '');
  const last = percentDecode(segments.at(-1) ?? '');
  return last.includes('.') ? safeFilename(last) : 'file';
}

/** `<provider>/<sha256[:8]>/<sha256[8:16]>/<filename>`, content-addressed by the normalised URL. */
export function buildObjectKey(provider: string, normalizedUrl: string): string {
  const digest = sha256Hex(normalizedUrl);
  const safeProvider = provider.toLowerCase().replace(/[^a-z0-9_-]/g, '_') || 'unknown';
  return `${safeProvider}/${digest.slice(0, 8)}/${digest.slice(8, 16)}/${filenameFromUrl(normalizedUrl)}`;
}
