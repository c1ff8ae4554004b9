// The original filename of a fetched file, and the Content-Disposition stored with the object
// so that the CDN download keeps that name.

// eslint-disable-next-line no-control-regex -- the point is to strip control characters
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;
const MAX_FILENAME_LENGTH = 255;

/** Keeps only a base name without control characters; path parts from a hostile header are dropped. */
export function sanitizeFilename(name: string): string {
  const base = name.replace(CONTROL_CHARACTERS, '').split(/[/\\]/).pop() ?? '';
  const trimmed = base.trim();
  if (trimmed === '' || trimmed === '.' || trimmed === '..') return '';
  return [...trimmed].slice(0, MAX_FILENAME_LENGTH).join('');
}

function decodePercent(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** A `filename*` (RFC 5987/8187) value wins over a plain `filename`, as RFC 6266 says. */
export function filenameFromContentDisposition(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /(?:^|;)\s*filename\*\s*=\s*([^';]*)'[^']*'([^;]*)/i.exec(header);
  if (extended) {
    const charset = (extended[1] ?? '').trim().toLowerCase();
    const encoded = (extended[2] ?? '').trim().replace(/^"(.*)"$/, '$1');
    // Only UTF-8 (and its ASCII subset) is decodable with decodeURIComponent; others fall back to `filename`.
    if (charset === 'utf-8' || charset === 'us-ascii' || charset === '') {
      const decoded = decodePercent(encoded);
      const name = decoded === undefined ? '' : sanitizeFilename(decoded);
      if (name) return name;
    }
  }
  const quoted = /(?:^|;)\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (quoted) {
    const name = sanitizeFilename((quoted[1] ?? '').replace(/\\(.)/g, '$1'));
    if (name) return name;
  }
  const token = /(?:^|;)\s*filename\s*=\s*([^";\s][^;]*)/i.exec(header);
  if (token) {
    const name = sanitizeFilename((token[1] ?? '').trim());
    if (name) return name;
  }
  return undefined;
}

/** The percent-decoded last path segment of a URL, if any. */
export function filenameFromUrl(url: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const last = pathname
    .split('/')
    .filter((segment) => segment !== '')
    .pop();
  if (last === undefined) return undefined;
  const name = sanitizeFilename(decodePercent(last) ?? last);
  return name || undefined;
}

/** `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / RFC 8187). */
export function attachmentDisposition(filename: string): string {
  const asciiFallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${asciiFallback}"; filename*=UTF-8''${encoded}`;
}
