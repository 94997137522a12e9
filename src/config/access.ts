/** The config's network-access settings: who may connect to the listeners, and where their clients may go. */
import { isLoopbackHost } from '../common/address.js';
import { parsePrefix } from '../route/match/ip-set.js';
import type { ListenerConfig } from './types.js';

/** A list of prefixes, each checked (problems name the bad ones); undefined when the key is absent. */
export function prefixList(value: string[] | undefined, at: string, problems: string[]): string[] | undefined {
  value?.forEach((prefix, i) => {
    try {
      parsePrefix(prefix, true);
    } catch (error) {
      problems.push(`${at}[${i}]: ${(error as Error).message}`);
    }
  });
  return value;
}

/**
 * One loud warning per SOCKS/HTTP/mixed listener that anyone who reaches it may use: on a
 * non-loopback address, without users, while lan-allowed-ips lets everyone in.
 */
export function openProxyWarnings(listeners: readonly ListenerConfig[]): string[] {
  return listeners
    .filter((l) => (l.type === 'socks' || l.type === 'http' || l.type === 'mixed') && !isLoopbackHost(l.listen) && !l.users)
    .map(
      (l) =>
        `OPEN PROXY: listener ${l.name} on ${l.listen}:${l.port} serves anyone who can reach it (no authentication, no lan-allowed-ips); ` +
        'set authentication (or its users), or lan-allowed-ips to your network, e.g. [192.168.1.0/24]',
    );
}

/** `allow-private-destinations` as ListenerConfig keeps it: true, checked prefixes, or undefined for none. */
export function allowedDestinations(value: boolean | string[] | undefined, at: string, problems: string[]): true | string[] | undefined {
  if (value === true) return true;
  return Array.isArray(value) && value.length > 0 ? prefixList(value, at, problems) : undefined;
}
