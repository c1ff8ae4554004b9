import ipaddr from 'ipaddr.js';

/**
 * `::/96`, the deprecated IPv4-compatible IPv6 block (RFC 4291 §2.5.5.1): `::7f00:1` is `::127.0.0.1`.
 * ipaddr.js calls it plain `unicast`, but some stacks route it to the embedded IPv4 address, and no public
 * host uses it: refuse the whole block (it also holds `::` and `::1`).
 */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/**
 * Address ranges a webhook target or offload source must never reach unless the operator allows
 * private networking: loopback, RFC 1918, link-local (cloud metadata 169.254.169.254), CGNAT,
 * multicast, reserved, and their IPv6 equivalents (incl. IPv4-mapped, IPv4-compatible, NAT64, 6to4).
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed instanceof ipaddr.IPv6) {
    if (parsed.match(IPV4_COMPATIBLE)) return false;
    if (parsed.isIPv4MappedAddress()) parsed = parsed.toIPv4Address();
  }
  return parsed.range() === 'unicast';
}
