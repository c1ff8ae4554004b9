import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { isPublicAddress } from './address';

export type GuardReason = 'invalid_url' | 'scheme_not_allowed' | 'host_not_allowed' | 'private_address' | 'dns_failed';

/** A URL refused by the network policy. `reason` is machine-readable. */
export class BlockedUrlError extends Error {
  constructor(
    readonly reason: GuardReason,
    message: string,
  ) {
    super(message);
    this.name = 'BlockedUrlError';
  }
}

export interface NetworkPolicy {
  /** ALLOW_PRIVATE_NETWORK: permits http:// and private/loopback addresses (local runs and tests only). */
  allowPrivateNetwork: boolean;
}

/** Checks scheme and literal-IP host before any connection: https only unless private networking is allowed. */
export function checkUrlShape(url: string, policy: NetworkPolicy): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BlockedUrlError('invalid_url', 'not a valid URL');
  }
  const schemes = policy.allowPrivateNetwork ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(parsed.protocol)) {
    throw new BlockedUrlError('scheme_not_allowed', `scheme ${parsed.protocol} is not allowed (https only)`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!policy.allowPrivateNetwork && isIP(host) && !isPublicAddress(host)) {
    throw new BlockedUrlError('private_address', `address ${host} is private, loopback or link-local`);
  }
  return parsed;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A dns.lookup replacement for got/http agents that refuses private answers at connect time,
 * so a DNS name (or a redirect to one) cannot smuggle a request to an internal address (rebinding-safe:
 * the checked address is the one connected to).
 */
export function guardedLookup(policy: NetworkPolicy) {
  return (hostname: string, options: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      const allowed = policy.allowPrivateNetwork ? list : list.filter((a) => isPublicAddress(a.address));
      if (allowed.length === 0) {
        const blocked = new BlockedUrlError(
          'private_address',
          `${hostname} resolves to a private, loopback or link-local address`,
        ) as BlockedUrlError & {
          code: string;
        };
        blocked.code = 'ERR_PRIVATE_ADDRESS';
        return callback(blocked, '', 0);
      }
      if ((options as { all?: boolean }).all) return callback(null, allowed);
      const first = allowed[0]!;
      return callback(null, first.address, first.family);
    });
  };
}

const DNS_TIMEOUT_MS = 3_000;

/** Resolves a URL's host now and refuses private answers (used when an operator saves a URL). */
export async function assertPublicUrl(url: string, policy: NetworkPolicy): Promise<URL> {
  const parsed = checkUrlShape(url, policy);
  if (policy.allowPrivateNetwork) return parsed;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return parsed;
  // Bounded: a resolver that does not answer must not hold an operator's save (or a test) for minutes.
  const addresses = await new Promise<LookupAddress[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('DNS timeout')), DNS_TIMEOUT_MS);
    dnsLookup(host, { all: true }, (error, list) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(list);
    });
  }).catch(() => {
    throw new BlockedUrlError('dns_failed', `${host} does not resolve`);
  });
  if (addresses.length === 0 || !addresses.every((a) => isPublicAddress(a.address))) {
    throw new BlockedUrlError('private_address', `${host} resolves to a private, loopback or link-local address`);
  }
  return parsed;
}
