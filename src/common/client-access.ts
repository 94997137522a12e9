/**
 * Which clients may use the listeners (mihomo's `lan-allowed-ips` / `lan-disallowed-ips`) and
 * which may skip authentication (`skip-auth-prefixes`). One instance serves every listener and
 * a reload replaces its settings in place.
 */
import { isLoopbackHost } from './address.js';
import { IpRangeSet, ipWords, parsePrefix } from '../route/match/ip-set.js';

/** The three prefix lists, as the config gives them. */
export interface ClientAccessSettings {
  /** Clients from these prefixes may connect (default: everyone). */
  allowed: readonly string[];
  /** Clients from these prefixes may not, even when allowed. */
  disallowed: readonly string[];
  /** Clients from these prefixes need no username and password. */
  skipAuth: readonly string[];
}

/** Everyone may connect, nobody skips authentication: mihomo's defaults. */
export const defaultClientAccess: ClientAccessSettings = { allowed: ['0.0.0.0/0', '::/0'], disallowed: [], skipAuth: [] };

/** The client checks every listener makes when it accepts a connection. */
export class ClientAccess {
  private allowed!: IpRangeSet;
  private disallowed!: IpRangeSet;
  private skipAuth!: IpRangeSet;

  constructor(settings: ClientAccessSettings = defaultClientAccess) {
    this.update(settings);
  }

  /** Applies new lists (config reload, PATCH /configs). */
  update(settings: ClientAccessSettings): void {
    const set = (prefixes: readonly string[]): IpRangeSet => IpRangeSet.of(prefixes.map((p) => parsePrefix(p, true)));
    this.allowed = set(settings.allowed);
    this.disallowed = set(settings.disallowed);
    this.skipAuth = set(settings.skipAuth);
  }

  /** True when a client at `ip` may connect: loopback always may; others must be allowed and not disallowed. */
  admits(ip: string): boolean {
    if (isLoopbackHost(ip)) return true;
    const words = ipWords(ip);
    return words !== undefined && this.allowed.has(words) && !this.disallowed.has(words);
  }

  /** True when a client at `ip` needs no credentials (skip-auth-prefixes). */
  skipsAuth(ip: string): boolean {
    const words = ipWords(ip);
    return words !== undefined && this.skipAuth.has(words);
  }
}
