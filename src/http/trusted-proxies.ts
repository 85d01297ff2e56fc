import { BlockList } from 'node:net';
import { parseCidr } from '../config/cidr';

/**
 * http_authz.trusted_proxies as a predicate on the peer address. Only a trusted peer's
 * X-Forwarded-* / X-Original-* headers describe the checked request; anyone else could name any
 * host and path and so pick the rule. IPv4-mapped IPv6 peers (`::ffff:10.1.2.3`, what a
 * dual-stack listener sees) match the IPv4 ranges: BlockList compares them as IPv4.
 */
export function trustedProxies(cidrs: readonly string[]): (peer: string | undefined) => boolean {
  const trusted = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    // The config schema has already refused anything else.
    if (cidr) trusted.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return (peer) => {
    if (!peer) return false;
    return trusted.check(peer, peer.includes(':') ? 'ipv6' : 'ipv4');
  };
}
