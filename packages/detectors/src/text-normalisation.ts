/**
 * Text normalisation shared by the detectors. It reproduces the original's Python helpers so that keyword tests
 * give the same answers: accents are stripped by NFD decomposition minus combining marks, then lower-cased.
 */

/**
 * The characters Python's `\s` matches in a str pattern. JavaScript's `\s` differs slightly (it has U+FEFF and lacks
 * U+001C-U+001F and U+0085), so patterns that must end or split exactly where the original did use this class.
 */
export const PYTHON_WHITESPACE = '\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** A Python `\w` character (Unicode letters, digits and underscore), for Unicode-aware word boundaries. */
export const PYTHON_WORD_CHAR = '[\\p{L}\\p{N}_]';

const COMBINING_MARK = /\p{M}/gu;
const WHITESPACE_RUN = new RegExp(`[${PYTHON_WHITESPACE}]+`, 'g');

/** `Média` → `Media`: NFD decomposition without the combining marks (Python's `unicodedata.combining`). */
export function stripAccents(text: string): string {
  return text.normalize('NFD').replace(COMBINING_MARK, '');
}

/** Accent-free and lower-cased, spacing untouched (the Média Solution subject test). */
export function foldAccentsAndCase(text: string): string {
  return stripAccents(text).toLowerCase();
}

/**
 * Accent-free, lower-cased, whitespace runs collapsed to one space and trimmed
 * (the original's `normalize_no_accents_lower_trim`, used by DESABO).
 */
export function normalizeForKeywordMatch(text: string): string {
  return foldAccentsAndCase(text).replace(WHITESPACE_RUN, ' ').trim();
}
