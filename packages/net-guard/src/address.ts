import ipaddr from 'ipaddr.js';

/**
 * Address ranges a webhook target or offload source must never reach unless the operator allows
 * private networking: loopback, RFC 1918, link-local (cloud metadata 169.254.169.254), CGNAT,
 * multicast, reserved, and their IPv6 equivalents (incl. IPv4-mapped).
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === 'unicast';
}
