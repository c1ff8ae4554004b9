import { containsProviderLink } from './link-extraction';
import { DEFAULT_PROVIDERS } from './link-providers';
import { foldAccentsAndCase, PYTHON_WHITESPACE, PYTHON_WORD_CHAR } from './text-normalisation';
import { formatHourMinute, zonedClock } from './zoned-clock';

export interface MediaSolutionResult {
  matches: boolean;
  delivery_time: string | null;
}

const EXACT_SUBJECT = 'Média Solution - Missions Recadrage - Lot';
const SUBJECT_KEYWORDS = ['media solution', 'missions recadrage', 'lot'];

const S = `[${PYTHON_WHITESPACE}]`;
const A = '(?:à|a)';
/** "à faire pour" (the original accepts "a" for "à" and a doubled "à"). */
const TODO_FOR = `${A}${S}+faire${S}+pour${S}+`;
const DATE = '([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})';
const AT = `${S}+${A}${S}+(?:${A}${S}+)?`;

// Tried in this order; the first hit wins (docs/original-behaviour.md, "Média Solution").
const DATE_TIME_H = new RegExp(`${TODO_FOR}le${S}+${DATE}${AT}([0-9]{1,2})h([0-9]{0,2})`, 'iu');
const DATE_TIME_COLON = new RegExp(`${TODO_FOR}le${S}+${DATE}${AT}([0-9]{1,2}):([0-9]{2})`, 'iu');
const TIME_H = new RegExp(`${TODO_FOR}(?:${A}${S}+)?([0-9]{1,2})h([0-9]{0,2})`, 'iu');
const TIME_COLON = new RegExp(`${TODO_FOR}(?:${A}${S}+)?([0-9]{1,2}):([0-9]{2})`, 'iu');
// Python's \b is Unicode-aware: spell it with look-arounds so "9hé" is not a time, as in the original.
const NOT_AFTER_WORD = `(?<!${PYTHON_WORD_CHAR})`;
const NOT_BEFORE_WORD = `(?!${PYTHON_WORD_CHAR})`;
const ANY_TIME_H = new RegExp(`${NOT_AFTER_WORD}([0-9]{1,2})h([0-9]{0,2})${NOT_BEFORE_WORD}`, 'iu');
const ANY_TIME_COLON = new RegExp(`${NOT_AFTER_WORD}([0-9]{1,2}):([0-9]{2})${NOT_BEFORE_WORD}`, 'u');
const URGENCE = new RegExp(`${NOT_AFTER_WORD}urgence${NOT_BEFORE_WORD}`, 'u');

/** Links the original accepted without a scheme (plain substrings). */
function hasBareProviderPath(body: string): boolean {
  const lower = body.toLowerCase();
  return body.includes('dropbox.com/scl/fo') || lower.includes('fromsmash.com/') || lower.includes('swisstransfer.com/d/');
}

/** `9`, `5` → `09h05`; missing minutes → `00`. The hour is not range-checked (the original's behaviour). */
function clockText(hours: string, minutes: string | undefined): string {
  return formatHourMinute(Number(hours), minutes ? Number(minutes) : 0);
}

function dateText(day: string, month: string, year: string): string {
  return `${day.padStart(2, '0')}/${month.padStart(2, '0')}/${year.padStart(4, '0')}`;
}

function extractDeliveryTime(normalisedSubject: string, body: string, now: Date, timeZone: string): string | null {
  if (URGENCE.test(normalisedSubject)) {
    // The absolute instant one hour from now, read on the zone's wall clock.
    const later = zonedClock(new Date(now.getTime() + 3_600_000), timeZone);
    return formatHourMinute(later.hour, later.minute);
  }
  const dated = DATE_TIME_H.exec(body) ?? DATE_TIME_COLON.exec(body);
  if (dated) return `le ${dateText(dated[1]!, dated[2]!, dated[3]!)} à ${clockText(dated[4]!, dated[5])}`;
  const timed = TIME_H.exec(body) ?? TIME_COLON.exec(body) ?? ANY_TIME_H.exec(body) ?? ANY_TIME_COLON.exec(body);
  if (timed) return clockText(timed[1]!, timed[2]);
  return null;
}

/**
 * The Média Solution "recadrage" detector (docs/original-behaviour.md, "Média Solution"): a provider link in the body, a Média Solution
 * subject, and a
 * delivery time that can be extracted; without a delivery time it does not match.
 */
export function detectMediaSolution(subject: string, body: string, now: Date, timeZone: string): MediaSolutionResult {
  const noMatch: MediaSolutionResult = { matches: false, delivery_time: null };
  if (!subject || !body) return noMatch;

  const hasDeliveryLink = containsProviderLink(body, DEFAULT_PROVIDERS) || hasBareProviderPath(body);
  const normalisedSubject = foldAccentsAndCase(subject);
  const hasSubject = subject.includes(EXACT_SUBJECT) || SUBJECT_KEYWORDS.every((keyword) => normalisedSubject.includes(keyword));
  if (!hasDeliveryLink || !hasSubject) return noMatch;

  const deliveryTime = extractDeliveryTime(normalisedSubject, body, now, timeZone);
  return deliveryTime ? { matches: true, delivery_time: deliveryTime } : noMatch;
}
