// Which source URLs the Worker may fetch: https only (http only when a test deployment opts in),
// and only hosts on the allowlist or their subdomains. Re-applied to every redirect hop.

export type SourceRefusal = 'invalid_url' | 'scheme_not_allowed' | 'host_not_allowed' | 'credentials_in_url';

export interface SourcePolicy {
  allowedHosts: readonly string[];
  allowHttpSources: boolean;
}

export function isHostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  // URL.hostname keeps IPv6 brackets and may carry a trailing dot ("dropbox.com.").
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (!host) return false;
  return allowedHosts.some((allowed) => host === allowed || host.endsWith(`.${allowed}`));
}

/** Returns the parsed URL when the policy allows fetching it, otherwise the reason it is refused. */
export function checkSourceUrl(raw: string, policy: SourcePolicy): { allowed: true; url: URL } | { allowed: false; reason: SourceRefusal } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { allowed: false, reason: 'invalid_url' };
  }
  const schemeAllowed = url.protocol === 'https:' || (policy.allowHttpSources && url.protocol === 'http:');
  if (!schemeAllowed) return { allowed: false, reason: 'scheme_not_allowed' };
  // user:pass@host is a classic allowlist bypass trick in hand-written parsers; nothing legitimate needs it here.
  if (url.username || url.password) return { allowed: false, reason: 'credentials_in_url' };
  if (!isHostAllowed(url.hostname, policy.allowedHosts)) return { allowed: false, reason: 'host_not_allowed' };
  return { allowed: true, url };
}
