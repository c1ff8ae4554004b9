import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * TRUST_PROXY, in the forms Express's "trust proxy" setting accepts: `false` (trust nobody: the socket's
 * address is the client, the default), `true` (trust every hop: only behind a proxy that overwrites
 * X-Forwarded-For), a hop count, or a comma list of `loopback` / `linklocal` / `uniquelocal` / IPs / CIDRs.
 */
export type TrustProxySetting = boolean | number | string[];

const SUBNET_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrCidr(token: string): boolean {
  const slash = token.indexOf('/');
  const address = slash < 0 ? token : token.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = token.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return isIP(bits) === 4 && family === 4; // a netmask such as 255.255.255.0
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** The parsed setting, or an error message naming what could not be read. */
export function parseTrustProxy(raw: string | undefined): TrustProxySetting | { error: string } {
  const value = (raw ?? '').trim().toLowerCase();
  if (value === '' || value === 'false' || value === '0' || value === 'no' || value === 'off') return false;
  if (value === 'true' || value === 'yes' || value === 'on') return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return hops <= 10 ? hops : { error: `expected at most 10 proxy hops, got ${hops}` };
  }
  const tokens = value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const bad = tokens.filter((t) => !SUBNET_NAMES.has(t) && !isAddressOrCidr(t));
  if (bad.length > 0)
    return {
      error: `expected false, true, a hop count, or a comma list of loopback/linklocal/uniquelocal/IP/CIDR; could not read: ${bad.join(', ')}`,
    };
  return tokens;
}

export const envTrustProxy = () =>
  z
    .string()
    .optional()
    .transform((raw, ctx): TrustProxySetting => {
      const parsed = parseTrustProxy(raw);
      if (typeof parsed === 'object' && !Array.isArray(parsed)) {
        ctx.addIssue({ code: 'custom', message: parsed.error });
        return z.NEVER;
      }
      return parsed;
    });
