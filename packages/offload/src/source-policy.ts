import { BlockedUrlError, checkUrlShape, guardedLookup, type NetworkPolicy } from '@render-signal/net-guard';
import type { BeforeRedirectHook } from 'got';
import { DEFAULT_ALLOWED_HOSTS } from './settings';

export interface SourcePolicy extends NetworkPolicy {
  allowedHosts: readonly string[];
}

export function sourcePolicyFrom(settings: { allowedHosts?: readonly string[]; allowPrivateNetwork?: boolean }): SourcePolicy {
  return {
    allowedHosts: (settings.allowedHosts ?? DEFAULT_ALLOWED_HOSTS).map((host) => host.toLowerCase().replace(/^\.+|\.+$/g, '')),
    allowPrivateNetwork: settings.allowPrivateNetwork ?? false,
  };
}

/** The host itself or a subdomain of an allowed host (`dl.dropboxusercontent.com` ⊂ `dropboxusercontent.com`). */
export function isAllowedSourceHost(hostname: string, allowedHosts: readonly string[]): boolean {
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  return allowedHosts.some((allowed) => host === allowed || host.endsWith(`.${allowed}`));
}

/**
 * Shape checks done before any connection: https only (http too with private networking), no literal
 * private IP, host on the provider allowlist. DNS answers are checked at connect time by `guardedLookup`.
 * Throws BlockedUrlError.
 */
export function assertSourceAllowed(url: string, policy: SourcePolicy): URL {
  const parsed = checkUrlShape(url, policy);
  if (!isAllowedSourceHost(parsed.hostname, policy.allowedHosts)) {
    throw new BlockedUrlError('host_not_allowed', `host ${parsed.hostname} is not an allowed offload source`);
  }
  return parsed;
}

/**
 * got options that keep every hop of a source download inside the policy: the DNS lookup refuses
 * private answers (for the first request and each redirect, at connect time, so rebinding cannot slip
 * through), and each redirect target is re-checked against scheme and host allowlist before it is followed.
 */
export function guardedSourceRequestOptions(policy: SourcePolicy) {
  const checkRedirect: BeforeRedirectHook = (updatedOptions) => {
    const target = updatedOptions.url;
    assertSourceAllowed(target instanceof URL ? target.href : String(target), policy);
  };
  return {
    dnsLookup: guardedLookup(policy),
    hooks: { beforeRedirect: [checkRedirect] },
  };
}

/** Finds a BlockedUrlError that got may have wrapped (RequestError keeps the original as `cause`). */
export function findBlockedUrlError(error: unknown): BlockedUrlError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth += 1) {
    if (current instanceof BlockedUrlError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
