import { isIP } from 'node:net';
import { isLoopbackHost, normalizeHost, parseHostPort } from '../common/address.js';
import type { LogLevel } from '../common/log.js';
import type { Rule } from '../adapter/router.js';
import type { RouterMode } from '../route/router.js';
import type { RuleProvider } from '../route/provider/provider.js';
import { buildGroups, type RawGroup } from './groups.js';
import { buildRouting, type RawProvider } from './routing.js';
import { buildSniffer, type RawSniffer } from './sniffer.js';
import { decodeKey } from '../protocol/pqtunnel/keys.js';
import { inPool, parsePool, type Pool } from '../protocol/pqtunnel/leases.js';
import { parsePrefix } from '../route/match/ip-set.js';
import { clashListenerKeys, clashProxyTypes, clashTopLevelKeys, clashVmessProxyKeys } from './clash-keys.js';
import { ConfigError, showValue } from './errors.js';
import { validate } from './schema.js';
import { allowedDestinations, openProxyWarnings, prefixList } from './access.js';
import { parseYaml } from './yaml.js';
import { maxConfigBytes, readRegularFile } from '../common/bounded-file.js';
import { defaultClientAccess, type ClientAccessSettings } from '../common/client-access.js';
import { describeError } from '../common/errors.js';
import type { ControllerConfig, GroupConfig, ListenerConfig, ListenerType, ProxyConfig, SnifferConfig, Timeouts, TunnelGatewayConfig } from './types.js';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of the bundled default config used when `run` gets no `-f`. */
export const defaultConfigUrl = new URL('../../config.default.yaml', import.meta.url);

/** Outbound names every config has (PASS: skip the rule; COMPATIBLE: DIRECT for empty groups). */
export const builtinOutbounds: readonly string[] = ['DIRECT', 'REJECT', 'REJECT-DROP', 'PASS', 'COMPATIBLE'];

/** Directory of the bundled default config (its relative paths resolve here). */
export const packageHome = fileURLToPath(new URL('../../', import.meta.url));

/** A validated configuration, ready to build a Box from. */
export interface LoadedConfig {
  /** Log threshold. */
  logLevel: LogLevel;
  /** Routing mode. */
  mode: RouterMode;
  /** Every listener to open. */
  listeners: ListenerConfig[];
  /** `allow-lan`: the default listeners accept other hosts, and `listeners:` may bind non-loopback addresses. */
  allowLan: boolean;
  /** `bind-address`: where the default listeners bind when allow-lan is on (`*`: every IPv4 address). */
  bindAddress: string;
  /** `lan-allowed-ips`, `lan-disallowed-ips`, `skip-auth-prefixes`: which clients may connect, and which skip authentication. */
  clientAccess: ClientAccessSettings;
  /** User-defined outbounds. */
  proxies: ProxyConfig[];
  /** Parsed rules, in order. */
  rules: Rule[];
  /** `sub-rules:` lists. */
  subRules: Map<string, Rule[]>;
  /** Proxy groups (GLOBAL included). */
  groups: GroupConfig[];
  /** Rule providers, local content loaded (http ones refresh when the Box starts). */
  providers: RuleProvider[];
  /** Sniffing settings; undefined when off. */
  sniffer: SnifferConfig | undefined;
  /** Config directory: relative paths resolve here; select choices are cached here. */
  home: string;
  /** Remember select-group choices in `home`/cache.json (`profile.store-selected`; only for configs read from a file). */
  storeSelected: boolean;
  /** The controller API, when `external-controller` is set. */
  controller: ControllerConfig | undefined;
  /** Time limits. */
  timeouts: Timeouts;
  /** Things the user should know that do not stop loading. */
  warnings: string[];
}

/** Key fields of the pqtunnel entries, checked by decoding them. */
const tunnelKeyFields = ['private-key', 'next-private-key', 'public-key', 'pre-shared-key'] as const;

interface RawListener {
  name: string;
  type: ListenerType;
  listen?: string;
  port: number;
  udp?: boolean;
  'allow-private-destinations'?: boolean | string[];
  users?: { username?: string; password?: string; uuid?: string; alterId?: number }[];
}

interface RawConfig {
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
  'log-level'?: LogLevel;
  mode?: RouterMode;
  listeners?: RawListener[];
  proxies?: ProxyConfig[];
  'proxy-groups'?: RawGroup[];
  rules?: string[];
  'rule-providers'?: Record<string, RawProvider>;
  'sub-rules'?: Record<string, string[]>;
  sniffer?: RawSniffer;
  'geoip-database'?: string;
  'asn-database'?: string;
  profile?: { 'store-selected'?: boolean };
  'external-controller'?: string;
  secret?: string;
  'external-controller-cors'?: { 'allow-origins'?: string[]; 'allow-private-network'?: boolean };
  'external-ui'?: string;
  timeouts?: Partial<Record<string, number>>;
}

/**
 * Reads and validates a YAML or JSON config file (a regular file of at most 16 MiB, read
 * without blocking the event loop). Throws ConfigError naming each problem.
 */
export async function loadConfigFile(path: string | URL): Promise<LoadedConfig> {
  const file = typeof path === 'string' ? resolvePath(path) : fileURLToPath(path);
  let text: string;
  try {
    text = (await readRegularFile(file, maxConfigBytes)).toString('utf8');
  } catch (error) {
    throw new ConfigError([`cannot read config ${file}: ${describeError(error)}`]);
  }
  return parseConfig(text, dirname(file));
}

/**
 * Parses and validates config text (YAML, of which JSON is a subset). Relative paths resolve
 * against `home`, the config's directory; text that comes from no file resolves against the
 * working directory and keeps no select-group cache there. Throws ConfigError.
 */
export function parseConfig(text: string, configDir?: string): LoadedConfig {
  const home = configDir ?? process.cwd();
  const root = parseYaml(text);
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new ConfigError([`(top level): must be a mapping of keys, got ${showValue(root)}`]);
  }
  const raw = root as Record<string, unknown>;
  const ignored: string[] = [];
  const problems: string[] = [];
  // A section left with only comments (`proxies:` and nothing under it) is empty, as in mihomo.
  for (const key of ['proxies', 'proxy-groups', 'listeners', 'rules', 'rule-providers', 'sub-rules']) if (raw[key] === null) delete raw[key];
  stripKnownClashKeys(raw, ignored, problems);
  problems.push(...validate(raw));
  if (problems.length > 0) throw new ConfigError(problems);
  return build(raw as RawConfig, ignored, home, configDir !== undefined);
}

/** Removes keys Clash defines but sluice does not implement (collecting their paths); flags unimplemented proxy types. */
function stripKnownClashKeys(raw: Record<string, unknown>, ignored: string[], problems: string[]): void {
  for (const key of Object.keys(raw)) {
    if (clashTopLevelKeys.has(key)) {
      ignored.push(key);
      delete raw[key];
    }
  }
  if (typeof raw.mode === 'string') raw.mode = raw.mode.toLowerCase();
  const listeners = Array.isArray(raw.listeners) ? raw.listeners : [];
  listeners.forEach((listener: unknown, i) => {
    if (typeof listener !== 'object' || listener === null) return;
    for (const key of Object.keys(listener)) {
      if (clashListenerKeys.has(key)) {
        ignored.push(`listeners[${i}].${key}`);
        delete (listener as Record<string, unknown>)[key];
      }
    }
  });
  const proxies = Array.isArray(raw.proxies) ? raw.proxies : [];
  proxies.forEach((proxy: unknown, i) => {
    if (typeof proxy !== 'object' || proxy === null) return;
    const entry = proxy as Record<string, unknown>;
    if (typeof entry.type === 'string' && clashProxyTypes.has(entry.type)) {
      problems.push(`proxies[${i}].type: '${entry.type}' is not supported yet (proxy ${showValue(entry.name)})`);
    }
    if (entry.type !== 'vmess') return;
    for (const key of Object.keys(entry)) {
      if (clashVmessProxyKeys.has(key)) {
        ignored.push(`proxies[${i}].${key}`);
        delete entry[key];
      }
    }
    if (entry.network !== undefined && entry.network !== 'tcp') {
      problems.push(`proxies[${i}].network: '${String(entry.network)}' transport is not supported yet (proxy ${showValue(entry.name)}); use tcp`);
    }
    if (entry.tls === true) problems.push(`proxies[${i}].tls: TLS is not supported yet (proxy ${showValue(entry.name)})`);
  });
}

const defaultTimeouts: Record<string, number> = {
  connect: 10, handshake: 10, 'http-keep-alive': 60, 'tcp-idle': 300, 'udp-idle': 60, dns: 5, 'dns-cache': 60,
  'reject-drop': 30, 'shutdown-grace': 5, sniff: 1, 'provider-download': 10,
};

function build(raw: RawConfig, ignored: string[], home: string, fromFile: boolean): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (ignored.length > 0) warnings.push(`not implemented yet, ignored: ${ignored.join(', ')}`);
  const allowLan = raw['allow-lan'] ?? false;
  const globalUsers = usersFrom(raw.authentication);

  const listeners: ListenerConfig[] = [];
  const bindAddress = raw['bind-address'] ?? '*';
  if (!isBindAddress(bindAddress)) problems.push(`bind-address: expected '*' or an IP address, got ${showValue(bindAddress)}`);
  const bind = defaultListenAddress(allowLan, bindAddress);
  const defaults: [keyof RawConfig, string, ListenerType][] = [
    ['port', 'DEFAULT-HTTP', 'http'],
    ['socks-port', 'DEFAULT-SOCKS', 'socks'],
    ['mixed-port', 'DEFAULT-MIXED', 'mixed'],
  ];
  const defaultAllowed = allowedDestinations(raw['allow-private-destinations'], 'allow-private-destinations', problems);
  for (const [key, name, type] of defaults) {
    const port = raw[key] as number | undefined;
    if (port) listeners.push({ name, type, listen: bind, port, users: globalUsers, udp: true, allowPrivateDestinations: defaultAllowed });
  }
  (raw.listeners ?? []).forEach((entry, i) => {
    if (entry.type === 'pqtunnel') {
      const gateway = entry as unknown as TunnelGatewayConfig;
      checkTunnelKeys(gateway as unknown as Record<string, unknown>, `listeners[${i}]`, problems);
      checkGatewayAddresses(gateway, `listeners[${i}]`, problems);
      const leaseFile = gateway['lease-file'] ?? (fromFile ? `pqtunnel-${gateway.name.replace(/[^\w.-]/g, '_')}-leases.json` : undefined);
      const resolved = { ...gateway, 'lease-file': leaseFile === undefined ? undefined : resolvePath(home, leaseFile) };
      listeners.push({ name: entry.name, type: 'pqtunnel', listen: entry.listen ?? '0.0.0.0', port: entry.port, udp: true, gateway: resolved });
      return;
    }
    const listen = entry.listen ?? '127.0.0.1';
    if (!allowLan && !isLoopbackHost(listen)) {
      problems.push(`listeners[${i}].listen: ${showValue(listen)} is not a loopback address; set allow-lan: true to listen on it`);
    }
    const allowPrivateDestinations = allowedDestinations(entry['allow-private-destinations'], `listeners[${i}].allow-private-destinations`, problems);
    if (entry.type === 'vmess') {
      const vmessUsers = (entry.users ?? []).map((u) => ({ username: u.username ?? u.uuid!, uuid: u.uuid!, alterId: u.alterId ?? 0 }));
      listeners.push({ name: entry.name, type: entry.type, listen, port: entry.port, udp: true, vmessUsers, allowPrivateDestinations });
      return;
    }
    const users = entry.users ? new Map(entry.users.map((u) => [u.username!, u.password!])) : globalUsers;
    listeners.push({ name: entry.name, type: entry.type, listen, port: entry.port, users, udp: entry.udp ?? true, allowPrivateDestinations });
  });
  const clientAccess: ClientAccessSettings = {
    allowed: prefixList(raw['lan-allowed-ips'], 'lan-allowed-ips', problems) ?? defaultClientAccess.allowed,
    disallowed: prefixList(raw['lan-disallowed-ips'], 'lan-disallowed-ips', problems) ?? [],
    skipAuth: prefixList(raw['skip-auth-prefixes'], 'skip-auth-prefixes', problems) ?? [],
  };
  if (raw['lan-allowed-ips'] === undefined) warnings.push(...openProxyWarnings(listeners));
  const defaultCount = listeners.length - (raw.listeners?.length ?? 0);
  const reserved = new Set(listeners.slice(0, defaultCount).map((l) => l.name));
  (raw.listeners ?? []).forEach((entry, i) => {
    if (reserved.has(entry.name)) problems.push(`listeners[${i}].name: ${showValue(entry.name)} is taken by a default listener`);
  });
  checkUnique((raw.listeners ?? []).map((l) => l.name), 'listeners', 'listener', problems);

  const allProxies = raw.proxies ?? [];
  checkUnique(allProxies.map((p) => p.name), 'proxies', 'proxy', problems);
  allProxies.forEach((p, i) => {
    if (builtinOutbounds.includes(p.name)) problems.push(`proxies[${i}].name: ${showValue(p.name)} is a built-in outbound name`);
    if (p.type === 'pqtunnel') checkTunnelKeys(p as unknown as Record<string, unknown>, `proxies[${i}]`, problems);
  });
  const proxies = allProxies;
  const groups = buildGroups(raw['proxy-groups'] ?? [], allProxies.map((p) => p.name), builtinOutbounds, problems, warnings);
  const targets = new Set([...builtinOutbounds, ...allProxies.map((p) => p.name), ...groups.map((g) => g.name)]);
  const routing = buildRouting(
    {
      home,
      rules: raw.rules ?? [],
      providers: raw['rule-providers'] ?? {},
      subRules: raw['sub-rules'] ?? {},
      targets,
      geoipDatabase: raw['geoip-database'],
      asnDatabase: raw['asn-database'],
    },
    problems,
    warnings,
  );
  allProxies.forEach((p, i) => {
    if (p.type !== 'pqtunnel') return;
    (p['exclude-routes'] ?? []).forEach((entry, j) => {
      const at = `proxies[${i}].exclude-routes[${j}]`;
      if (entry.includes('/')) {
        try {
          parsePrefix(entry);
        } catch (error) {
          problems.push(`${at}: ${(error as Error).message}`);
        }
      } else if (routing.providers.find((provider) => provider.name === entry)?.config.behavior !== 'ipcidr') {
        problems.push(`${at}: ${showValue(entry)} is neither a CIDR prefix nor the name of an ipcidr rule-provider`);
      }
    });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  if (listeners.length === 0) warnings.push('no listener configured: set mixed-port, socks-port, port or listeners');

  const seconds = { ...defaultTimeouts, ...raw.timeouts };
  const ms = (key: string): number => Math.round(seconds[key]! * 1000);
  const sniffer = buildSniffer(raw.sniffer, routing.env, problems, ms('sniff'));
  const controller = controllerConfig(raw, problems, warnings, home);
  if (raw.sniffer?.sniff?.QUIC) warnings.push('sniffer.sniff.QUIC: QUIC sniffing is not supported yet, ignored');
  if (problems.length > 0) throw new ConfigError(problems);
  const timeouts: Timeouts = {
    connectMs: ms('connect'),
    handshakeMs: ms('handshake'),
    httpKeepAliveMs: ms('http-keep-alive'),
    tcpIdleMs: ms('tcp-idle'),
    udpIdleMs: ms('udp-idle'),
    dnsMs: ms('dns'),
    dnsCacheMs: ms('dns-cache'),
    rejectDropMs: ms('reject-drop'),
    shutdownGraceMs: ms('shutdown-grace'),
    providerDownloadMs: ms('provider-download'),
  };
  return {
    logLevel: raw['log-level'] ?? 'info',
    mode: raw.mode ?? 'rule',
    listeners,
    allowLan,
    bindAddress,
    clientAccess,
    proxies,
    rules: routing.rules,
    subRules: routing.subRules,
    groups,
    providers: routing.providers,
    sniffer,
    home,
    storeSelected: fromFile && (raw.profile?.['store-selected'] ?? true),
    controller,
    timeouts,
    warnings,
  };
}

/** `external-controller: host:port` (`:9090` listens on every address, as in mihomo). */
function controllerConfig(raw: RawConfig, problems: string[], warnings: string[], home: string): ControllerConfig | undefined {
  const text = raw['external-controller'];
  if (text === undefined || text === '') return undefined;
  const address = parseHostPort(text.startsWith(':') ? `0.0.0.0${text}` : text);
  if (!address) {
    problems.push(`external-controller: expected host:port, got ${showValue(text)}`);
    return undefined;
  }
  const secret = raw.secret ?? '';
  const cors = raw['external-controller-cors'];
  const allowOrigins = cors?.['allow-origins'] ?? (secret === '' ? [] : ['*']);
  if (secret === '') {
    if (!isLoopbackHost(address.host)) {
      problems.push(`external-controller: ${text} is reachable from other hosts and has no secret: set secret, or listen on loopback (127.0.0.1:${address.port})`);
    } else {
      const wildcard = allowOrigins.includes('*') ? "; allow-origins '*' is ignored without a secret" : '';
      warnings.push(`external-controller: no secret is set, so any program on this host can control sluice (web pages cannot)${wildcard}`);
    }
  }
  return {
    host: normalizeHost(address.host),
    port: address.port,
    secret,
    allowOrigins,
    allowPrivateNetwork: cors?.['allow-private-network'] ?? true,
    uiDir: raw['external-ui'] === undefined ? undefined : resolvePath(home, raw['external-ui']),
  };
}

/** Decodes every key of a pqtunnel entry (and of its peers), reporting the path of a bad one. */
function checkTunnelKeys(entry: Record<string, unknown>, path: string, problems: string[]): void {
  const check = (value: unknown, at: string): void => {
    if (typeof value !== 'string') return;
    try {
      decodeKey(value, 'key');
    } catch (error) {
      problems.push(`${at}: ${(error as Error).message}`);
    }
  };
  for (const field of tunnelKeyFields) check(entry[field], `${path}.${field}`);
  const peers = Array.isArray(entry.peers) ? (entry.peers as Record<string, unknown>[]) : [];
  peers.forEach((peer, i) => {
    for (const field of tunnelKeyFields) check(peer[field], `${path}.peers[${i}].${field}`);
  });
}

/** Checks that the pools and fixed peer addresses of a gateway are usable. */
function checkGatewayAddresses(gateway: TunnelGatewayConfig, path: string, problems: string[]): void {
  const pools: Pool[] = [];
  for (const key of ['ipv4-pool', 'ipv6-pool'] as const) {
    const text = gateway[key];
    if (text === undefined) continue;
    try {
      const pool = parsePool(text);
      if ((pool.family === 4) !== (key === 'ipv4-pool')) throw new Error(`${showValue(text)} is not an ${key === 'ipv4-pool' ? 'IPv4' : 'IPv6'} prefix`);
      pools.push(pool);
    } catch (error) {
      problems.push(`${path}.${key}: ${(error as Error).message}`);
    }
  }
  gateway.peers.forEach((peer, i) => {
    (peer.address ?? []).forEach((address, j) => {
      const bare = address.replace(/\/\d+$/, '');
      if (!pools.some((pool) => inPool(pool, bare))) problems.push(`${path}.peers[${i}].address[${j}]: ${showValue(address)} is not inside a pool of this gateway`);
    });
    prefixList(peer['allow-destinations'], `${path}.peers[${i}].allow-destinations`, problems);
  });
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

function checkUnique(names: string[], path: string, what: string, problems: string[]): void {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (seen.has(name)) problems.push(`${path}[${i}].name: duplicate ${what} name ${showValue(name)}`);
    seen.add(name);
  });
}
