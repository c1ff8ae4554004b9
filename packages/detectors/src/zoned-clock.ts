/** Wall-clock readings of an instant in an IANA time zone (the window, URGENCE and absence days all use one zone). */

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface ZonedClock {
  hour: number;
  minute: number;
  weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // Throws RangeError for an unknown zone: a misconfigured zone must fail loudly, not fall back to UTC.
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'long',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function zonedClock(now: Date, timeZone: string): ZonedClock {
  let hour = 0;
  let minute = 0;
  let weekday: Weekday = 'monday';
  for (const part of formatterFor(timeZone).formatToParts(now)) {
    if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
    else if (part.type === 'weekday') weekday = part.value.toLowerCase() as Weekday;
  }
  return { hour, minute, weekday };
}

/** `13h05`: the original's delivery-time format. */
export function formatHourMinute(hour: number, minute: number): string {
  return `${String(hour).padStart(2, '0')}h${String(minute).padStart(2, '0')}`;
}
