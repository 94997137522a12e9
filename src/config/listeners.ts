/** The listeners of a config: the default ports and `listeners:` entries, read through each protocol's registration. */
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import type { ListenerOptionsContext } from '../adapter/registration.js';
import { isLoopbackHost } from '../common/address.js';
import { defaultClientAccess, type ClientAccessSettings } from '../common/client-access.js';
import { inboundProtocol } from '../registry.js';
import { allowedDestinations, openProxyWarnings, prefixList } from './access.js';
import { showValue } from './errors.js';
import type { ListenerConfig, ListenerType } from './types.js';

/** The keys of a config that decide its listeners. */
export interface RawListenerSettings {
  port?: number;
  'socks-port'?: number;
  'mixed-port'?: number;
  'allow-lan'?: boolean;
  'bind-address'?: string;
  'lan-allowed-ips'?: string[];
  'lan-disallowed-ips'?: string[];
  'skip-auth-prefixes'?: string[];
  authentication?: string[];
  'allow-private-destinations'?: boolean | string[];
  listeners?: ({ name: string; type: ListenerType; listen?: string; port: number; 'allow-private-destinations'?: boolean | string[] } & Record<string, unknown>)[];
}

/** The listeners and who may use them. */
export interface ListenerSettings {
  /** Every listener to open. */
  listeners: ListenerConfig[];
  /** `allow-lan`. */
  allowLan: boolean;
  /** `bind-address`. */
  bindAddress: string;
  /** `lan-allowed-ips`, `lan-disallowed-ips`, `skip-auth-prefixes`. */
  clientAccess: ClientAccessSettings;
}

const defaultPorts: [keyof RawListenerSettings, string, 'http' | 'socks' | 'mixed'][] = [
  ['port', 'DEFAULT-HTTP', 'http'],
  ['socks-port', 'DEFAULT-SOCKS', 'socks'],
  ['mixed-port', 'DEFAULT-MIXED', 'mixed'],
];

/** Where a config came from, for its listeners. */
export interface ListenerSource {
  /** Config directory (relative paths resolve here). */
  home: string;
  /** True when the config came from a file. */
  fromFile: boolean;
  /** `listeners:` indexes not to open (types sluice lacks, invalid entries). */
  skip: ReadonlySet<number>;
}

/** Reads the listener keys; problems and warnings go to the given lists. */
export function buildListeners(raw: RawListenerSettings, { home, fromFile, skip }: ListenerSource, problems: string[], warnings: string[]): ListenerSettings {
  const allowLan = raw['allow-lan'] ?? false;
  const globalUsers = usersFrom(raw.authentication);
  const bindAddress = raw['bind-address'] ?? '*';
  if (!isBindAddress(bindAddress)) problems.push(`bind-address: expected '*' or an IP address, got ${showValue(bindAddress)}`);
  const bind = defaultListenAddress(allowLan, bindAddress);
  const context = (base: ListenerOptionsContext['base']): ListenerOptionsContext => ({
    base,
    globalUsers,
    resolvePath: (path) => resolvePath(home, path),
    fromFile,
    problems,
  });
  const listeners: ListenerConfig[] = [];
  const defaultAllowed = allowedDestinations(raw['allow-private-destinations'], 'allow-private-destinations', problems);
  for (const [key, name, type] of defaultPorts) {
    const port = raw[key] as number | undefined;
    if (!port) continue;
    const base = { name, listen: bind, port, allowPrivateDestinations: defaultAllowed };
    listeners.push(inboundProtocol(type).options({ raw: {}, at: key }, context(base)));
  }
  const reserved = new Set(listeners.map((l) => l.name));
  const entries = raw.listeners ?? [];
  entries.forEach((entry, i) => {
    if (skip.has(i)) return;
    const at = `listeners[${i}]`;
    const protocol = inboundProtocol(entry.type);
    const listen = entry.listen ?? protocol.defaultListen;
    if (protocol.clients !== 'tunnel-peers' && !allowLan && !isLoopbackHost(listen)) {
      problems.push(`${at}.listen: ${showValue(listen)} is not a loopback address; set allow-lan: true to listen on it`);
    }
    if (reserved.has(entry.name)) problems.push(`${at}.name: ${showValue(entry.name)} is taken by a default listener`);
    const allowed = protocol.clients === 'tunnel-peers' ? undefined : allowedDestinations(entry['allow-private-destinations'], `${at}.allow-private-destinations`, problems);
    listeners.push(protocol.options({ raw: entry, at }, context({ name: entry.name, listen, port: entry.port, allowPrivateDestinations: allowed })));
  });
  checkUnique(entries.map((l, i) => (skip.has(i) ? `skipped listener ${i}` : l.name)), 'listeners', 'listener', problems);
  const clientAccess: ClientAccessSettings = {
    allowed: prefixList(raw['lan-allowed-ips'], 'lan-allowed-ips', problems) ?? defaultClientAccess.allowed,
    disallowed: prefixList(raw['lan-disallowed-ips'], 'lan-disallowed-ips', problems) ?? [],
    skipAuth: prefixList(raw['skip-auth-prefixes'], 'skip-auth-prefixes', problems) ?? [],
  };
  if (raw['lan-allowed-ips'] === undefined) warnings.push(...openProxyWarnings(listeners));
  return { listeners, allowLan, bindAddress, clientAccess };
}

function usersFrom(pairs: string[] | undefined): Map<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  return new Map(pairs.map((pair) => [pair.slice(0, pair.indexOf(':')), pair.slice(pair.indexOf(':') + 1)]));
}

/** True for `*` and IP literals: what `bind-address` accepts. */
export function isBindAddress(value: string): boolean {
  return value === '*' || isIP(value) !== 0;
}

/** Where the default listeners (port, socks-port, mixed-port) bind: loopback unless allow-lan is on. */
export function defaultListenAddress(allowLan: boolean, bindAddress: string): string {
  if (!allowLan) return '127.0.0.1';
  return bindAddress === '*' ? '0.0.0.0' : bindAddress;
}

/** Reports every name used before in `names`. */
export function checkUnique(names: string[], path: string, what: string, problems: string[]): void {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (seen.has(name)) problems.push(`${path}[${i}].name: duplicate ${what} name ${showValue(name)}`);
    seen.add(name);
  });
}
