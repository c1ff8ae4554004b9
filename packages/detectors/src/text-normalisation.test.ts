import { describe, expect, it } from '@jest/globals';
import { foldAccentsAndCase, normalizeForKeywordMatch, stripAccents } from './text-normalisation';
import { formatHourMinute, zonedClock } from './zoned-clock';

describe('text normalisation', () => {
  it.each([
    ['Média Solution', 'Media Solution', 'media solution', 'media solution'],
    ['  Été  2024\n', '  Ete  2024\n', '  ete  2024\n', 'ete 2024'],
    ['Ça\u00a0va\tÔ', 'Ca\u00a0va\tO', 'ca\u00a0va\to', 'ca va o'],
    ['Me\u0301dia', 'Media', 'media', 'media'],
    ['ß œ ø', 'ß œ ø', 'ß œ ø', 'ß œ ø'],
    ['', '', '', ''],
  ])('%j', (input, stripped, folded, normalised) => {
    expect(stripAccents(input)).toBe(stripped);
    expect(foldAccentsAndCase(input)).toBe(folded);
    expect(normalizeForKeywordMatch(input)).toBe(normalised);
  });
});

describe('zonedClock', () => {
  it.each([
    ['2025-06-10T12:34:56Z', 'Europe/Paris', { hour: 14, minute: 34, weekday: 'tuesday' }],
    ['2025-06-10T22:05:00Z', 'Europe/Paris', { hour: 0, minute: 5, weekday: 'wednesday' }],
    ['2025-06-10T22:05:00Z', 'UTC', { hour: 22, minute: 5, weekday: 'tuesday' }],
    ['2025-06-15T03:00:00Z', 'America/New_York', { hour: 23, minute: 0, weekday: 'saturday' }],
    ['2025-01-06T00:00:00Z', 'Europe/Paris', { hour: 1, minute: 0, weekday: 'monday' }],
  ])('%s in %s', (iso, tz, expected) => {
    expect(zonedClock(new Date(iso), tz)).toEqual(expected);
  });

  it('refuses an unknown time zone', () => {
    expect(() => zonedClock(new Date(), 'Mars/Olympus')).toThrow(RangeError);
  });

  it.each([
    [9, 5, '09h05'],
    [13, 35, '13h35'],
    [0, 0, '00h00'],
    [99, 99, '99h99'],
  ])('formatHourMinute(%i, %i) → %s', (hour, minute, expected) => {
    expect(formatHourMinute(hour, minute)).toBe(expected);
  });
});
