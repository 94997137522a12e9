/**
 * Which resolved addresses the clients of a listener may reach directly: checked when DIRECT
 * dials (after DNS, on the address actually connected to) and when it sends a datagram, so
 * `localhost`, `0.0.0.0`, `::ffff:127.0.0.1`, `127.1` and a name that resolves to 127.0.0.1
 * are all caught, and a name cannot be rebound between the check and the connect.
 */
import type { ListenerClients } from '../adapter/registration.js';
import type { ListenerConfig } from '../config/types.js';
import type { DestinationGuard } from '../adapter/flow.js';
import { IpRangeSet, ipWords, parsePrefix, type IpWords } from '../route/match/ip-set.js';
import { hostAddresses, isLoopbackHost } from './address.js';

/** IPv4 destinations that are special-purpose, private, link-local or multicast. */
export const specialIpv4 = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4', '255.255.255.255/32',
] as const;

/** IPv6 destinations of the same kinds, NAT64 and IPv4-mapped prefixes included (they reach IPv4 ones). */
export const specialIpv6 = [
  '::/128', '::1/128', '::ffff:0:0/96', '64:ff9b::/96', '64:ff9b:1::/48', '100::/64', 'fc00::/7', 'fe80::/10', 'ff00::/8',
] as const;

/** Loopback and unspecified addresses, in every spelling that reaches them. */
const hostItself = ['0.0.0.0/8', '127.0.0.0/8', '::/128', '::1/128', '::ffff:0:0/104', '::ffff:7f00:0/104'] as const;

/** Who a listener serves, which decides what its clients may not reach. */
export type GuardKind =
  /** A server for remote users (VMess): nothing private, special or on this host. */
  | 'remote'
  /** SOCKS/HTTP/mixed serving a LAN: the LAN stays reachable, this host's loopback does not. */
  | 'lan';

/** How often this host's own addresses are read again (DHCP, new interfaces). */
const ownAddressesTtlMs = 10_000;

/** A listener's destination check (see GuardKind); `allowed` prefixes are reachable whatever the kind says. */
export class ListenerDestinationGuard implements DestinationGuard {
  private readonly denied: IpRangeSet;
  private readonly allowed: IpRangeSet;
  private own: { set: IpRangeSet; at: number } | undefined;

  constructor(
    private readonly kind: GuardKind,
    /** The listener name, for messages. */
    private readonly listener: string,
    allowed: readonly string[] = [],
  ) {
    const prefixes = kind === 'remote' ? [...specialIpv4, ...specialIpv6] : hostItself;
    this.denied = IpRangeSet.of(prefixes.map((p) => parsePrefix(p)));
    this.allowed = IpRangeSet.of(allowed.map((p) => parsePrefix(p, true)));
  }

  problem(ip: string): string | undefined {
    const words = ipWords(ip);
    if (!words || this.allowed.has(words)) return undefined;
    const what = this.denied.has(words) ? 'a private, loopback or special address' : this.isOwn(words) ? "this host's own address" : undefined;
    if (!what) return undefined;
    return `${ip} is ${what}: clients of listener ${this.listener} may not reach it (allow-private-destinations opens it)`;
  }

  private isOwn(words: IpWords): boolean {
    if (this.kind !== 'remote') return false;
    const now = Date.now();
    if (!this.own || now - this.own.at > ownAddressesTtlMs) {
      const addresses = hostAddresses().map((a) => a.address);
      this.own = { set: IpRangeSet.of(addresses.map((a) => parsePrefix(a, true))), at: now };
    }
    return this.own.set.has(words);
  }
}

/**
 * What DIRECT may not dial for a listener's clients: a VMess server's remote users reach no
 * private or special address and nothing on this host; a SOCKS/HTTP/mixed listener on a
 * non-loopback address keeps its LAN but not this host's loopback; a loopback listener is
 * local and unguarded; tunnel peers have the gateway's own firewall. `allow-private-destinations`
 * opens all (true) or some prefixes.
 */
export function destinationGuard(listener: ListenerConfig, clients: ListenerClients): ListenerDestinationGuard | undefined {
  const allowed = listener.allowPrivateDestinations;
  if (allowed === true || clients === 'tunnel-peers') return undefined;
  const kind = clients === 'remote-users' ? 'remote' : isLoopbackHost(listener.listen) ? undefined : 'lan';
  return kind && new ListenerDestinationGuard(kind, listener.name, allowed);
}
