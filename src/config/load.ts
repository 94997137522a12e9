import type { LogLevel } from '../common/log.js';
import type { Rule } from '../adapter/router.js';
import type { RouterMode } from '../route/router.js';
import type { RuleProvider } from '../route/provider/provider.js';
import { buildGroups, type RawGroup } from './groups.js';
import { proxyAdapterType } from './clash-keys.js';
import { buildRouting, type RawProvider } from './routing.js';
import { buildSniffer, type RawSniffer } from './sniffer.js';
import { Geodata, type GeoKind } from '../route/geodata/geodata.js';
import type { GeoUpdateSettings } from '../route/geodata/update.js';
import { buildProxyProviders, type RawProxyProvider } from './proxy-providers.js';
import type { ProxyProvider } from '../route/proxy-provider/provider.js';
import { readMihomoShape, restorePlaceholders, shapeWarnings } from './mihomo-shape.js';
import { buildListeners, checkUnique, type RawListenerSettings } from './listeners.js';
import { buildOutboundSockets, type RawSocketSettings } from './outbound-sockets.js';
import { controllerConfig, type RawControllerKeys } from './controller.js';
import { buildDns, type DnsSettings, type RawDns } from './dns.js';
import { buildHosts, type Hosts } from '../dns/hosts.js';
import type { OutboundSockets } from '../common/socket-options.js';
import { checkProxy } from '../registry.js';
import { ConfigError, showValue } from './errors.js';
import { validateConfig } from './schema.js';
import { parseYaml } from './yaml.js';
import { maxConfigBytes, readRegularFile } from '../common/bounded-file.js';
import type { ClientAccessSettings } from '../common/client-access.js';
import { describeError } from '../common/errors.js';
import type { ControllerConfig, GroupConfig, ListenerConfig, SnifferConfig, Timeouts } from './types.js';
import type { ProxyConfig } from './proxy-types.js';
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
  /** `ipv6`: false keeps names to their IPv4 addresses. */
  ipv6: boolean;
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
  /** Proxy providers, local content loaded (http ones download when the Box starts). */
  proxyProviders: ProxyProvider[];
  /** Names groups and rules refer to that nothing defines: outbounds that fail every flow. */
  undefinedNames: string[];
  /** Parsed rules, in order. */
  rules: Rule[];
  /** `sub-rules:` lists. */
  subRules: Map<string, Rule[]>;
  /** Proxy groups (GLOBAL included). */
  groups: GroupConfig[];
  /** Rule providers, local content loaded (http ones refresh when the Box starts). */
  providers: RuleProvider[];
  /** The geo databases rules read. */
  geodata: Geodata;
  /** `geox-url` downloads: what, from where, and whether they repeat. */
  geoUpdate: GeoUpdateSettings;
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
  /** Keep-alive, tcp-concurrent and the top-level interface-name/routing-mark of outgoing sockets. */
  sockets: OutboundSockets;
  /** `unified-delay`: delay tests time a second request on the connection, leaving handshakes out. */
  unifiedDelay: boolean;
  /** The DNS module's settings; undefined without `dns.enable: true`. */
  dns: DnsSettings | undefined;
  /** `hosts:`, which every lookup consults first. */
  hosts: Hosts;
  /** Things the user should know that do not stop loading. */
  warnings: string[];
}

interface RawConfig extends RawListenerSettings, RawSocketSettings, RawControllerKeys {
  'log-level'?: LogLevel;
  mode?: RouterMode;
  ipv6?: boolean;
  proxies?: ProxyConfig[];
  'proxy-groups'?: RawGroup[];
  rules?: string[];
  'rule-providers'?: Record<string, RawProvider>;
  'proxy-providers'?: Record<string, RawProxyProvider>;
  'sub-rules'?: Record<string, string[]>;
  sniffer?: RawSniffer;
  'geoip-database'?: string;
  'asn-database'?: string;
  'geodata-mode'?: boolean;
  'geox-url'?: Partial<Record<GeoKind, string>>;
  'geo-auto-update'?: boolean;
  'geo-update-interval'?: number;
  profile?: { 'store-selected'?: boolean; 'store-fake-ip'?: boolean };
  dns?: RawDns;
  hosts?: Record<string, string | string[]> | null;
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
  const { value: root, anchorHolders } = parseYaml(text);
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new ConfigError([`(top level): must be a mapping of keys, got ${showValue(root)}`]);
  }
  const raw = root as Record<string, unknown>;
  const problems: string[] = [];
  const shape = readMihomoShape(raw, anchorHolders, problems);
  const { undeclared, invalidListeners } = validateConfig(raw, problems);
  restorePlaceholders(raw, shape);
  const warnings = shapeWarnings(shape, undeclared);
  const skippedListeners = new Set([...shape.skippedListeners.keys(), ...invalidListeners]);
  return build(raw as RawConfig, { home, fromFile: configDir !== undefined, skippedListeners, problems, warnings });
}

/** What `build` starts from besides the validated config. */
interface BuildContext {
  home: string;
  fromFile: boolean;
  /** `listeners:` indexes not to open (unsupported types, invalid entries). */
  skippedListeners: ReadonlySet<number>;
  /** Problems found so far; the config is refused at the end when there are any. */
  problems: string[];
  warnings: string[];
}

const defaultTimeouts: Record<string, number> = {
  connect: 10, handshake: 10, 'http-keep-alive': 60, 'tcp-idle': 300, 'udp-idle': 60, dns: 5, 'dns-cache': 60,
  'reject-drop': 30, 'shutdown-grace': 5, sniff: 1, 'provider-download': 10,
};

function build(raw: RawConfig, { home, fromFile, skippedListeners, problems, warnings }: BuildContext): LoadedConfig {
  const { listeners, allowLan, bindAddress, clientAccess } = buildListeners(raw, { home, fromFile, skip: skippedListeners }, problems, warnings);

  const allProxies = raw.proxies ?? [];
  checkUnique(allProxies.map((p) => p.name), 'proxies', 'proxy', problems);
  allProxies.forEach((p, i) => {
    if (builtinOutbounds.includes(p.name)) problems.push(`proxies[${i}].name: ${showValue(p.name)} is a built-in outbound name`);
  });
  const proxies = allProxies;
  const geoxUrl = raw['geox-url'] ?? {};
  const geodata = new Geodata({
    home,
    mmdb: raw['geoip-database'],
    asn: raw['asn-database'],
    geodataMode: raw['geodata-mode'] ?? false,
    downloads: new Set((Object.keys(geoxUrl) as GeoKind[]).filter((kind) => !(kind === 'mmdb' && raw['geoip-database']) && !(kind === 'asn' && raw['asn-database']))),
  });
  const undefinedNames = new Set<string>();
  const names = new Set([...builtinOutbounds, ...allProxies.map((p) => p.name), ...(raw['proxy-groups'] ?? []).map((g) => g.name)]);
  allProxies.forEach((p, i) => {
    const dialer = 'dialer-proxy' in p ? p['dialer-proxy'] : undefined;
    if (dialer === undefined || names.has(dialer)) return;
    warnings.push(`proxies[${i}].dialer-proxy: unknown proxy or group ${showValue(dialer)}: it is not defined, so flows through ${showValue(p.name)} fail`);
    undefinedNames.add(dialer);
  });
  const proxyProviders = buildProxyProviders(raw['proxy-providers'] ?? {}, home, { targets: names, undefinedNames }, problems, warnings);
  // A provider that failed to load keeps its name, so that groups using it raise no second problem.
  const providerNames = Object.keys(raw['proxy-providers'] ?? {});
  const groupSources = { proxies: allProxies.map((p) => ({ name: p.name, type: proxyAdapterType(p) })), providers: providerNames, builtins: builtinOutbounds, undefinedNames };
  const groups = buildGroups(raw['proxy-groups'] ?? [], groupSources, problems, warnings);
  const targets = new Set([...names, ...groups.map((g) => g.name)]);
  const routing = buildRouting(
    {
      home,
      rules: raw.rules ?? [],
      providers: raw['rule-providers'] ?? {},
      subRules: raw['sub-rules'] ?? {},
      targets,
      undefinedNames,
      geodata,
      asnDatabase: raw['asn-database'],
    },
    problems,
    warnings,
  );
  const providerBehavior = (name: string): string | undefined => routing.providers.find((provider) => provider.name === name)?.config.behavior;
  allProxies.forEach((p, i) => checkProxy(p, `proxies[${i}]`, { providerBehavior, problems }));
  if (listeners.length === 0) warnings.push('no listener configured: set mixed-port, socks-port, port or listeners');

  const seconds = { ...defaultTimeouts, ...raw.timeouts };
  const ms = (key: string): number => Math.round(seconds[key]! * 1000);
  const sniffer = buildSniffer(raw.sniffer, routing.env, problems, ms('sniff'));
  const controller = controllerConfig(raw, problems, warnings, home);
  const hosts = buildHosts(raw.hosts ?? undefined, problems);
  const dns = buildDns(raw.dns, { ipv6: raw.ipv6 ?? true, storeFakeIp: fromFile && raw.profile?.['store-fake-ip'] === true, hosts, allowLan, env: routing.env }, problems, warnings);
  if (raw.sniffer?.sniff?.QUIC) warnings.push('sniffer.sniff.QUIC: QUIC sniffing is not supported yet, ignored');
  if (problems.length > 0) throw new ConfigError(problems, warnings);
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
    ipv6: raw.ipv6 ?? true,
    listeners,
    allowLan,
    bindAddress,
    clientAccess,
    proxies,
    proxyProviders,
    undefinedNames: [...undefinedNames],
    rules: routing.rules,
    subRules: routing.subRules,
    groups,
    providers: routing.providers,
    geodata,
    geoUpdate: { urls: geoxUrl, autoUpdate: raw['geo-auto-update'] ?? false, intervalHours: raw['geo-update-interval'] ?? 24 },
    sniffer,
    home,
    storeSelected: fromFile && (raw.profile?.['store-selected'] ?? true),
    controller,
    timeouts,
    sockets: buildOutboundSockets(raw),
    unifiedDelay: raw['unified-delay'] ?? false,
    dns,
    hosts,
    warnings,
  };
}
