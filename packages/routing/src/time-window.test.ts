import { describe, expect, it } from '@jest/globals';
import type { Detection } from '@render-signal/detectors';
import { decideWindowOutcome, isWithinWindow, parseClock, weekdayIn } from './time-window';

const PARIS = 'Europe/Paris';
/** A Date whose Paris wall clock reads hh:mm on a summer Tuesday (UTC+2). */
const parisAt = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return new Date(Date.UTC(2025, 5, 10, h! - 2, m!));
};

describe('parseClock', () => {
  it.each([
    ['09h30', 570],
    ['9:30', 570],
    ['23:59', 1439],
    ['00h00', 0],
    ['24:00', null],
    ['9h', null],
    ['9:5', null],
    ['', null],
    [undefined, null],
  ])('%j → %j', (text, minutes) => {
    expect(parseClock(text)).toBe(minutes);
  });
});

describe('isWithinWindow', () => {
  it.each([
    // [start, end, now (Paris), expected]
    ['09:00', '17:00', '09:00', true], // start inclusive
    ['09:00', '17:00', '08:59', false],
    ['09:00', '17:00', '16:59', true],
    ['09:00', '17:00', '17:00', false], // end exclusive
    ['09h00', '17h00', '12:00', true], // h form
    ['9h00', '17:00', '12:00', true], // mixed forms
    ['22:00', '06:00', '22:00', true], // overnight wrap
    ['22:00', '06:00', '23:59', true],
    ['22:00', '06:00', '00:00', true],
    ['22:00', '06:00', '05:59', true],
    ['22:00', '06:00', '06:00', false],
    ['22:00', '06:00', '12:00', false],
    ['22:00', '06:00', '21:59', false],
    ['10:00', '10:00', '10:00', false], // equal bounds: always closed
    ['10:00', '10h00', '03:00', false],
    ['', '17:00', '12:00', null], // no constraint
    ['09:00', '', '12:00', null],
    [undefined, undefined, '12:00', null],
    ['9h', '17:00', '12:00', null], // unparsable → no constraint
    ['09:00', '25:00', '12:00', null],
  ])('[%s, %s) at %s → %s', (start, end, now, expected) => {
    expect(isWithinWindow(parisAt(now), start, end, PARIS)).toBe(expected);
  });

  it('reads the clock in the given time zone', () => {
    const now = new Date('2025-06-10T07:30:00Z'); // 09:30 Paris, 07:30 UTC, 03:30 New York
    expect(isWithinWindow(now, '09:00', '10:00', PARIS)).toBe(true);
    expect(isWithinWindow(now, '09:00', '10:00', 'UTC')).toBe(false);
    expect(isWithinWindow(now, '03:00', '04:00', 'America/New_York')).toBe(true);
  });

  it('follows daylight saving time', () => {
    expect(isWithinWindow(new Date('2025-01-10T08:30:00Z'), '09:00', '10:00', PARIS)).toBe(true); // UTC+1
    expect(isWithinWindow(new Date('2025-07-10T08:30:00Z'), '09:00', '10:00', PARIS)).toBe(false); // UTC+2 → 10:30
  });
});

describe('weekdayIn', () => {
  it.each([
    ['2025-06-09T12:00:00Z', PARIS, 'monday'],
    ['2025-06-15T22:30:00Z', PARIS, 'monday'], // Sunday 22:30 UTC is Monday 00:30 in Paris
    ['2025-06-15T22:30:00Z', 'UTC', 'sunday'],
    ['2025-06-14T12:00:00Z', PARIS, 'saturday'],
  ])('%s in %s → %s', (iso, tz, day) => {
    expect(weekdayIn(new Date(iso), tz)).toBe(day);
  });
});

describe('decideWindowOutcome', () => {
  const recadrage: Detection = { detector: 'recadrage', delivery_time: '10h00' };
  const desaboUrgent: Detection = { detector: 'desabonnement_journee_tarifs', is_urgent: true };
  const desabo: Detection = { detector: 'desabonnement_journee_tarifs', is_urgent: false };
  const none: Detection = { detector: null };
  const day = { start: '09:00', end: '17:00' };
  const night = { start: '22:00', end: '06:00' };

  it.each([
    // inside the window: everything is sent, "maintenant"
    [
      'recadrage inside',
      recadrage,
      day,
      '10:00',
      { send: true, markProcessed: false, reason: 'inside_window', webhooks_time_start: 'maintenant', webhooks_time_end: '17:00' },
    ],
    [
      'no detector inside',
      none,
      day,
      '10:00',
      { send: true, markProcessed: false, reason: 'inside_window', webhooks_time_start: 'maintenant', webhooks_time_end: '17:00' },
    ],
    [
      'DESABO urgent inside',
      desaboUrgent,
      night,
      '23:00',
      { send: true, markProcessed: false, reason: 'inside_window', webhooks_time_start: 'maintenant', webhooks_time_end: '06:00' },
    ],
    // outside: per-detector outcomes
    [
      'recadrage outside: skipped and marked',
      recadrage,
      day,
      '18:00',
      { send: false, markProcessed: true, reason: 'outside_window_recadrage', webhooks_time_end: '17:00' },
    ],
    [
      'DESABO urgent outside: skipped, not marked',
      desaboUrgent,
      day,
      '18:00',
      { send: false, markProcessed: false, reason: 'outside_window_desabo_urgent', webhooks_time_end: '17:00' },
    ],
    [
      'DESABO outside after end: sent, no start',
      desabo,
      day,
      '18:00',
      { send: true, markProcessed: false, reason: 'outside_window_desabo_sent_anyway', webhooks_time_end: '17:00' },
    ],
    [
      'DESABO outside before start: sent with the start',
      desabo,
      day,
      '08:00',
      {
        send: true,
        markProcessed: false,
        reason: 'outside_window_desabo_sent_anyway',
        webhooks_time_start: '09:00',
        webhooks_time_end: '17:00',
      },
    ],
    [
      'DESABO outside an overnight window (before start)',
      desabo,
      night,
      '12:00',
      {
        send: true,
        markProcessed: false,
        reason: 'outside_window_desabo_sent_anyway',
        webhooks_time_start: '22:00',
        webhooks_time_end: '06:00',
      },
    ],
    [
      'DESABO start kept as written (h form)',
      desabo,
      { start: '12h00', end: '14h00' },
      '11:00',
      {
        send: true,
        markProcessed: false,
        reason: 'outside_window_desabo_sent_anyway',
        webhooks_time_start: '12h00',
        webhooks_time_end: '14h00',
      },
    ],
    [
      'no detector outside: skipped, not marked',
      none,
      day,
      '18:00',
      { send: false, markProcessed: false, reason: 'outside_window_no_detector', webhooks_time_end: '17:00' },
    ],
    [
      'equal bounds: always outside',
      recadrage,
      { start: '10:00', end: '10:00' },
      '10:00',
      { send: false, markProcessed: true, reason: 'outside_window_recadrage', webhooks_time_end: '10:00' },
    ],
    // no window
    ['no window', recadrage, {}, '03:00', { send: true, markProcessed: false, reason: 'no_window' }],
    [
      'end only: no constraint, end still sent',
      none,
      { start: '', end: '17:00' },
      '18:00',
      { send: true, markProcessed: false, reason: 'no_window', webhooks_time_end: '17:00' },
    ],
    [
      'start only: no constraint, no fields',
      none,
      { start: '09:00', end: null },
      '08:00',
      { send: true, markProcessed: false, reason: 'no_window' },
    ],
    [
      'unparsable bound: no constraint',
      recadrage,
      { start: 'soon', end: '17:00' },
      '18:00',
      { send: true, markProcessed: false, reason: 'no_window', webhooks_time_end: '17:00' },
    ],
  ])('%s', (_case, detection, window, now, expected) => {
    expect(decideWindowOutcome(detection, window, parisAt(now), PARIS)).toEqual(expected);
  });
});
