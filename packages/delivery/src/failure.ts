import type { FailureReason } from '@render-signal/contracts';

export type { FailureReason };

export function classifyHttpFailure(status: number | undefined, body: string): FailureReason {
  const lower = body.toLowerCase();
  if (lower.includes('imunify360') || lower.includes('bot-protection')) return 'bot_protection_denied';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'rate_limited';
  if (status !== undefined && status >= 500) return 'upstream_server_error';
  if (status !== undefined && status >= 400) return 'upstream_client_error';
  if (body.trim() !== '') return 'remote_application_error';
  return 'request_failed';
}

/**
 * Answers that will not change on retry. The rest (5xx, 408, 409, 415, 425, 429, timeouts, network errors)
 * is retried on the schedule.
 */
const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 405, 410, 413, 422]);

export function isPermanentStatus(status: number): boolean {
  return PERMANENT_STATUSES.has(status);
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date names its month (RFC 9110 §5.6.7); Date.parse would read "-5" or "1.5" as dates in the past.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** First 200 characters with whitespace collapsed, as the original logged response snippets. */
export function responseExcerpt(body: string, max = 200): string {
  return body.replace(/\s+/g, ' ').trim().slice(0, max);
}
