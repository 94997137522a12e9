/**
 * Local-network protection of a gateway (spec §8.4): which destinations a tunnel client may
 * reach. The same lists feed the user-space check before every TUN write and the firewall.
 */
import { IpRangeSet, parsePrefix, type IpWords } from '../../route/match/ip-set.js';

/** IPv4 destinations denied by default: special-purpose, private, link-local, multicast. */
export const deniedIpv4 = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4', '255.255.255.255/32',
] as const;

/** IPv6 destinations denied by default, NAT64 prefixes included (they reach private IPv4). */
export const deniedIpv6 = [
  '::/128', '::1/128', '::ffff:0:0/96', '64:ff9b::/96', '64:ff9b:1::/48', '100::/64', 'fc00::/7', 'fe80::/10', 'ff00::/8',
] as const;

/** Decides whether a client's packet may leave for its destination. */
export class DestinationPolicy {
  private readonly denied: IpRangeSet;
  private readonly allowed: ReadonlyMap<string, IpRangeSet>;

  constructor(
    /** The gateway's own addresses (all interfaces): denied as well. */
    ownAddresses: readonly string[],
    /** Per peer name: the `allow-destinations` prefixes that override the deny list. */
    allowDestinations: ReadonlyMap<string, readonly string[]>,
  ) {
    const own = ownAddresses.map((address) => parsePrefix(address, true));
    this.denied = IpRangeSet.of([...deniedIpv4, ...deniedIpv6].map((prefix) => parsePrefix(prefix)).concat(own));
    this.allowed = new Map([...allowDestinations].map(([peer, prefixes]) => [peer, IpRangeSet.of(prefixes.map((p) => parsePrefix(p, true)))]));
  }

  /** True when `peer` may send to `destination`. */
  allows(peer: string, destination: IpWords): boolean {
    return !this.denied.has(destination) || this.allowed.get(peer)?.has(destination) === true;
  }
}
