/**
 * The `next` target after login: only a same-origin absolute path is honoured (no scheme, no host,
 * no `//evil` or `/\evil` protocol-relative tricks); anything else falls back to the dashboard.
 */
export function safeNextPath(next: unknown, fallback = '/dashboard'): string {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2_000) return fallback;
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  // Control characters (tabs, newlines) are stripped by browsers inside URLs: `/\t/evil` would become `//evil`.
  if ([...next].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f || c === '\\')) return fallback;
  if (next.startsWith('/login') || next.startsWith('/logout')) return fallback;
  return next;
}
