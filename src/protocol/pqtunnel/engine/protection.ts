/**
 * Local-network protection of a gateway (spec §8.4): which destinations a tunnel client may
 * reach. The same lists feed the user-space check before every TUN write and the firewall.
 */
import { specialIpv4, specialIpv6 } from '../../../common/destination-guard.js';
import { IpRangeSet, parsePrefix, type IpWords } from '../../../route/match/ip-set.js';

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
    this.denied = IpRangeSet.of([...specialIpv4, ...specialIpv6].map((prefix) => parsePrefix(prefix)).concat(own));
    this.allowed = new Map([...allowDestinations].map(([peer, prefixes]) => [peer, IpRangeSet.of(prefixes.map((p) => parsePrefix(p, true)))]));
  }

  /** True when `peer` may send to `destination`. */
  allows(peer: string, destination: IpWords): boolean {
    return !this.denied.has(destination) || this.allowed.get(peer)?.has(destination) === true;
  }
}
