import { RE2JS } from 're2js';

/** The original's limit on a rule's regex, in characters. */
export const MAX_RULE_REGEX_LENGTH = 200;

const CACHE_LIMIT = 1_000;
const compiled = new Map<string, RE2JS | null>();

/**
 * User regexes run on RE2 (linear time: no backtracking, so no pattern can stall a worker). RE2 syntax is Python's
 * minus look-arounds and backreferences. Returns null when the pattern does not compile. Compiled patterns are cached.
 */
export function compileUserRegex(pattern: string, caseSensitive: boolean): RE2JS | null {
  const key = `${caseSensitive ? 's' : 'i'}:${pattern}`;
  if (compiled.has(key)) return compiled.get(key)!;
  let regex: RE2JS | null;
  try {
    regex = RE2JS.compile(pattern, caseSensitive ? 0 : RE2JS.CASE_INSENSITIVE);
  } catch {
    regex = null;
  }
  if (compiled.size >= CACHE_LIMIT) compiled.clear();
  compiled.set(key, regex);
  return regex;
}

/** Save-time check: at most 200 characters (code points, like Python's len) and valid RE2 syntax. */
export function isValidUserRegex(pattern: string): boolean {
  return [...pattern].length <= MAX_RULE_REGEX_LENGTH && compileUserRegex(pattern, true) !== null;
}

/** A JavaScript-style identifier: what a named group must be called to become `extracted.<name>`. */
export const EXTRACT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The named groups of a valid pattern, in their order; or the name that repeats; or null when it does not compile. */
export type NamedGroups = { names: string[] } | { duplicate: string } | null;

/**
 * The named groups of a pattern (`(?<name>…)` or `(?P<name>…)`). RE2 refuses a name that repeats: that case is told
 * apart (with the name), so the operator reads which group to rename rather than "invalid regex".
 */
export function namedGroupsOf(pattern: string): NamedGroups {
  const regex = compileUserRegex(pattern, true);
  if (regex) return { names: Object.keys(regex.namedGroups()) };
  const seen = new Set<string>();
  for (const match of pattern.matchAll(/\(\?P?<(\w+)>/g)) {
    if (seen.has(match[1]!)) return { duplicate: match[1]! };
    seen.add(match[1]!);
  }
  return null;
}
