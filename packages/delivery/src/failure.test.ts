import { describe, expect, it } from '@jest/globals';
import { classifyHttpFailure, isPermanentStatus, parseRetryAfter, responseExcerpt, type FailureReason } from './failure';

describe('classifyHttpFailure (the original failure_reason values)', () => {
  it.each<[string, number | undefined, string, FailureReason]>([
    ['Imunify360 page, whatever the status', 403, '<html>Access denied by Imunify360 bot-protection</html>', 'bot_protection_denied'],
    ['bot-protection text on a 200', 200, 'blocked: BOT-PROTECTION', 'bot_protection_denied'],
    ['415', 415, '', 'unsupported_media_type'],
    ['429', 429, 'slow down', 'rate_limited'],
    ['500', 500, '', 'upstream_server_error'],
    ['503 with a body', 503, 'maintenance', 'upstream_server_error'],
    ['404', 404, 'not found', 'upstream_client_error'],
    ['400', 400, '', 'upstream_client_error'],
    ['2xx without the success flag, with a body', 200, '{"success":false}', 'remote_application_error'],
    ['2xx, empty body', 200, '   ', 'request_failed'],
    ['no status (network), empty', undefined, '', 'request_failed'],
    ['no status, some text', undefined, 'ECONNRESET', 'remote_application_error'],
  ])('%s', (_name, status, body, expected) => {
    expect(classifyHttpFailure(status, body)).toBe(expected);
  });
});

describe('isPermanentStatus', () => {
  it.each([
    [400, true],
    [401, true],
    [403, true],
    [404, true],
    [405, true],
    [410, true],
    [413, true],
    [422, true],
    [408, false],
    [409, false],
    [415, false],
    [425, false],
    [429, false],
    [500, false],
    [502, false],
    [503, false],
  ])('%i → %s', (status, permanent) => {
    expect(isPermanentStatus(status)).toBe(permanent);
  });
});

describe('parseRetryAfter (delta-seconds or HTTP date)', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  it.each<[string, string | undefined, number | undefined]>([
    ['absent', undefined, undefined],
    ['empty', '', undefined],
    ['seconds', '120', 120_000],
    ['zero seconds', '0', 0],
    ['seconds with spaces', '  5 ', 5_000],
    ['HTTP date in the future', 'Tue, 01 Dec 2026 12:00:30 GMT', 30_000],
    ['HTTP date in the past: 0, not negative', 'Tue, 01 Dec 2026 11:59:00 GMT', 0],
    ['negative seconds are not delta-seconds', '-5', undefined],
    ['fractional seconds are not delta-seconds', '1.5', undefined],
    ['garbage', 'soon', undefined],
    ['not a valid date', 'Tue, 99 Foo 2026 99:99:99 GMT', undefined],
  ])('%s', (_name, header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});

describe('responseExcerpt', () => {
  it.each([
    ['collapses whitespace', '  a\n\n b\tc  ', 'a b c'],
    ['cuts at 200', 'x'.repeat(300), 'x'.repeat(200)],
    ['empty', '', ''],
  ])('%s', (_name, body, expected) => {
    expect(responseExcerpt(body)).toBe(expected);
  });
});
