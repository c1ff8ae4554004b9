/**
 * How much of an email field the detectors and routing rules read. Rule regexes run on RE2 (linear), but linear in
 * 5 MB is still hundreds of milliseconds per rule on the worker's one event loop, which also runs deliveries. So
 * matching reads a bounded window of each field (FIELD_SCAN_LIMIT_KB); links are still taken from the whole body.
 */

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** The first `maxChars` UTF-16 units of `text`, never ending in half a surrogate pair. */
export function leadingText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const end = isHighSurrogate(text.charCodeAt(maxChars - 1)) ? maxChars - 1 : maxChars;
  return text.slice(0, Math.max(0, end));
}

/** The last `maxChars` UTF-16 units of `text`, never starting with half a surrogate pair. */
export function trailingText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const start = text.length - maxChars;
  return text.slice(isLowSurrogate(text.charCodeAt(start)) ? start + 1 : start);
}
