/**
 * Masking for anything that may carry a secret: webhook URLs (Make.com tokens live in the path),
 * query strings (signed links), bearer tokens. Logs and API answers only ever show the masked form.
 */

/** Masked URLs by URL: a worker masks its few target URLs several times per email (journey, webhook log, log line). */
const maskedUrls = new Map<string, string>();
const MASKED_URLS_MAX = 512;

/** `https://hook.eu2.make.com/abc123` → `https://hook.eu2.make.com/***`. Unparsable input → `***`. */
export function maskUrl(url: string | undefined | null): string | null {
  if (url === undefined || url === null || url === '') return null;
  const known = maskedUrls.get(url);
  if (known !== undefined) return known;
  let masked: string;
  try {
    const parsed = new URL(url);
    const port = parsed.port ? `:${parsed.port}` : '';
    masked = `${parsed.protocol}//${parsed.hostname}${port}/***`;
  } catch {
    masked = '***';
  }
  if (maskedUrls.size >= MASKED_URLS_MAX) maskedUrls.clear();
  maskedUrls.set(url, masked);
  return masked;
}

/** A value as maskUrl shows a URL (`scheme://host/***`): what a client that read the API may send back. */
export function isMaskedUrl(value: unknown): value is string {
  return typeof value === 'string' && value.endsWith('/***');
}

/**
 * A URL sent back as the API showed it: a masked value stands for the first candidate (the stored URL of that
 * field, of that rule…) it is the mask of, and is `undefined` when it stands for none; any other value is itself.
 */
export function unmaskUrl(value: string, candidates: ReadonlyArray<string | null | undefined>): string | undefined {
  if (!isMaskedUrl(value)) return value;
  return candidates.find((url): url is string => Boolean(url) && maskUrl(url) === value);
}

/** Keeps the first 4 characters of a secret so operators can tell two apart. */
export function maskSecret(secret: string | undefined | null): string | null {
  if (!secret) return null;
  return secret.length <= 8 ? '***' : `${secret.slice(0, 4)}***`;
}

const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+/gi;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const WHSEC = /\bwhsec_[A-Za-z0-9+/=]+/g;
const MAY_HOLD_SECRET = /:\/\/|bearer|whsec_/i;

/** Masks URLs, bearer tokens and webhook secrets inside free text (error messages, response excerpts). */
export function maskText(text: string): string {
  // Most log strings (ids, event names, statuses) hold nothing to mask: one scan instead of three replaces.
  if (!MAY_HOLD_SECRET.test(text)) return text;
  return text
    .replace(URL_IN_TEXT, (u) => maskUrl(u) ?? '***')
    .replace(BEARER, '$1 ***')
    .replace(WHSEC, 'whsec_***');
}

const SECRET_KEYS = /(token|secret|password|authorization|api[_-]?key|cookie|signature)/i;
const URL_KEYS = /(url|endpoint|href|link)$/i;

/** Deep copy of a log/metadata object with secrets and URL tokens masked. */
export function maskFields(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[depth]';
  if (typeof value === 'string') return maskText(value);
  if (Array.isArray(value)) return value.map((v) => maskFields(v, depth + 1));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (SECRET_KEYS.test(key) && typeof v === 'string') out[key] = maskSecret(v);
      else if (URL_KEYS.test(key) && typeof v === 'string') out[key] = maskUrl(v);
      else out[key] = maskFields(v, depth + 1);
    }
    return out;
  }
  return value;
}
