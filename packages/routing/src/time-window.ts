import { parseClock } from '@render-signal/contracts';
import { type Detection, type Weekday, zonedClock } from '@render-signal/detectors';

export { parseClock };

/** The configured sending window (webhook_config.webhook_time_start/end, env filling gaps), as strings. */
export interface TimeWindow {
  start?: string | null;
  end?: string | null;
}

function minutesNow(now: Date, timeZone: string): number {
  const clock = zonedClock(now, timeZone);
  return clock.hour * 60 + clock.minute;
}

/**
 * Is `now` inside the window, read on the wall clock of `timeZone`? null = no constraint (a bound missing or
 * unparsable). Start is inclusive, end exclusive; start > end wraps midnight; start == end is always closed.
 */
export function isWithinWindow(
  now: Date,
  start: string | null | undefined,
  end: string | null | undefined,
  timeZone: string,
): boolean | null {
  const from = parseClock(start);
  const to = parseClock(end);
  if (from === null || to === null) return null;
  if (from === to) return false;
  const current = minutesNow(now, timeZone);
  return from < to ? current >= from && current < to : current >= from || current < to;
}

/** English lower-case weekday of `now` in `timeZone` (absence-pause days). */
export function weekdayIn(now: Date, timeZone: string): Weekday {
  return zonedClock(now, timeZone).weekday;
}

export const WINDOW_REASONS = [
  'no_window',
  'inside_window',
  'outside_window_recadrage',
  'outside_window_desabo_urgent',
  'outside_window_desabo_sent_anyway',
  'outside_window_no_detector',
] as const;
export type WindowReason = (typeof WINDOW_REASONS)[number];

export interface WindowOutcome {
  /** Deliver the email now? */
  send: boolean;
  /** Mark it processed although nothing is sent (recadrage outside the window: the original never retries those). */
  markProcessed: boolean;
  reason: WindowReason;
  /** Payload field: "maintenant" inside a full window; the configured start for non-urgent DESABO before the start. */
  webhooks_time_start?: string;
  /** Payload field: the configured end whenever it is non-empty. */
  webhooks_time_end?: string;
}

/** What the original does with an email given its detection and the window (docs/original-behaviour.md, "Time window and absence"). */
export function decideWindowOutcome(detection: Detection, window: TimeWindow, now: Date, timeZone: string): WindowOutcome {
  const start = (window.start ?? '').trim();
  const end = (window.end ?? '').trim();
  const fields: Pick<WindowOutcome, 'webhooks_time_end'> = end ? { webhooks_time_end: end } : {};
  const inside = isWithinWindow(now, start, end, timeZone);

  if (inside === null) return { send: true, markProcessed: false, reason: 'no_window', ...fields };
  if (inside) return { send: true, markProcessed: false, reason: 'inside_window', webhooks_time_start: 'maintenant', ...fields };

  switch (detection.detector) {
    case 'recadrage':
      return { send: false, markProcessed: true, reason: 'outside_window_recadrage', ...fields };
    case 'desabonnement_journee_tarifs': {
      if (detection.is_urgent) return { send: false, markProcessed: false, reason: 'outside_window_desabo_urgent', ...fields };
      const beforeStart = minutesNow(now, timeZone) < parseClock(start)!;
      return {
        send: true,
        markProcessed: false,
        reason: 'outside_window_desabo_sent_anyway',
        ...(beforeStart ? { webhooks_time_start: start } : {}),
        ...fields,
      };
    }
    default:
      return { send: false, markProcessed: false, reason: 'outside_window_no_detector', ...fields };
  }
}
