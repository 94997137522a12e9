/**
 * The `dns:` section (spec dns.md §3): what sluice runs of it, checked at load. Keys sluice
 * does not implement yet are listed in one warning; nameserver entries it cannot use yet are
 * skipped with a warning each.
 */
import { isIPv6 } from 'node:net';
import { isLoopbackHost, normalizeHost, parseHostPort } from '../common/address.js';
import type { NameMatcher } from '../route/match/domain-set.js';
import { parsePrefix } from '../route/match/ip-set.js';
import type { RuleEnv } from '../route/rule/parse.js';
import { domainMatcher } from './domain-matcher.js';
import type { EnhancedMode } from '../dns/handler.js';
import { FakeIpPool } from '../dns/fake-ip.js';
import { parseNameserver } from '../dns/upstream.js';
import type { Hosts } from '../dns/hosts.js';
import { showValue } from './errors.js';

/** `dns:` as the schema validated it. */
export interface RawDns {
  enable?: boolean;
  listen?: string;
  ipv6?: boolean;
  'enhanced-mode'?: string;
  'fake-ip-range'?: string;
  'fake-ip-filter'?: string[];
  'fake-ip-filter-mode'?: string;
  'fake-ip-ttl'?: number;
  nameserver?: string[];
  'default-nameserver'?: string[];
  'nameserver-policy'?: Record<string, string | string[]>;
  fallback?: string[];
  'fallback-filter'?: { geoip?: boolean; 'geoip-code'?: string; ipcidr?: string[]; domain?: string[]; geosite?: string[] };
  [key: string]: unknown;
}

/** A NameMatcher over a matching function. */
function matcher(matches: (host: string) => boolean): NameMatcher {
  return { has: matches };
}

/** What the DNS module runs. */
export interface DnsSettings {
  /** Where the DNS server listens (UDP and TCP); none without `listen`. */
  listen: { host: string; port: number } | undefined;
  /** `enhanced-mode`. */
  mode: EnhancedMode;
  /** `fake-ip-range`. */
  fakeIpRange: string;
  /** `fake-ip-filter` (wildcards, `geosite:`, `rule-set:`), and whether it is a whitelist. */
  filter: { names: NameMatcher; whitelist: boolean };
  /** `fake-ip-ttl`. */
  fakeTtl: number;
  /** `dns.ipv6` and top-level `ipv6`: AAAA queries to the server get answers. */
  ipv6: boolean;
  /** `nameserver` entries sluice can use. */
  nameservers: string[];
  /** `default-nameserver` (IP literals): resolve the host names of the others; getaddrinfo when empty. */
  defaultNameservers: string[];
  /** `fallback` entries, and `fallback-filter`. */
  fallback: { servers: string[]; geoip: boolean; geoipCode: string; ipcidr: string[]; domains: NameMatcher };
  /** `nameserver-policy`: names (wildcards, `geosite:`, `rule-set:`) → entries, in config order. */
  policies: { names: NameMatcher; servers: string[] }[];
  /** `profile.store-fake-ip`, for configs read from a file. */
  storeFakeIp: boolean;
  /** `hosts:` when `use-hosts` (default true) lets the server answer from it. */
  hosts: Hosts | undefined;
}

/** Keys of `dns:` read above; the rest of mihomo's keys warn. */
const implemented = new Set(['fallback', 'fallback-filter', 'use-hosts', 'enable', 'listen', 'ipv6', 'enhanced-mode', 'fake-ip-range', 'fake-ip-filter', 'fake-ip-filter-mode', 'fake-ip-ttl', 'nameserver', 'default-nameserver', 'nameserver-policy', 'cache-algorithm']);

/** Reads `dns:`; undefined when it is absent or `enable` is not true. */
export function buildDns(raw: RawDns | undefined, context: { ipv6: boolean; storeFakeIp: boolean; hosts: Hosts; allowLan: boolean; env: RuleEnv }, problems: string[], warnings: string[]): DnsSettings | undefined {
  if (!raw || raw.enable !== true) return undefined;
  const ignored = Object.keys(raw).filter((key) => !implemented.has(key));
  if (ignored.length > 0) warnings.push(`dns: not implemented yet, ignored: ${ignored.join(', ')}`);
  const mode = (raw['enhanced-mode'] ?? 'redir-host').toLowerCase();
  if (mode !== 'fake-ip' && mode !== 'redir-host' && mode !== 'normal') problems.push(`dns.enhanced-mode: expected fake-ip, redir-host or normal, got ${showValue(raw['enhanced-mode'])}`);
  const fakeIpRange = raw['fake-ip-range'] ?? '198.18.0.1/16';
  try {
    new FakeIpPool(fakeIpRange);
  } catch (error) {
    problems.push(`dns.${(error as Error).message}`);
  }
  let listen: DnsSettings['listen'];
  if (raw.listen) {
    listen = parseHostPort(raw.listen.startsWith(':') ? `0.0.0.0${raw.listen}` : raw.listen);
    if (!listen) problems.push(`dns.listen: expected host:port, got ${showValue(raw.listen)}`);
    else if (listen.port === 0) listen = undefined;
    else if (!context.allowLan && !isLoopbackHost(listen.host)) {
      // An open resolver on the network is not what a user who left allow-lan off asked for.
      const loopback = isIPv6(normalizeHost(listen.host)) ? '::1' : '127.0.0.1';
      warnings.push(`DNS SERVER NOT EXPOSED: dns.listen ${raw.listen} needs allow-lan: true to answer other hosts, so it listens on ${loopback}:${listen.port} only`);
      listen = { host: loopback, port: listen.port };
    }
  }
  for (const [i, entry] of (raw['default-nameserver'] ?? []).entries()) {
    if (!/^(system|(\w+:\/\/)?\[?[\d.:a-fA-F]+\]?(:\d+)?(\/.*)?)$/.test(entry)) problems.push(`dns.default-nameserver[${i}]: ${showValue(entry)}: default nameserver should be pure IP`);
  }
  let nameservers = usable(raw.nameserver ?? [], 'dns.nameserver', problems, warnings);
  if (raw.nameserver !== undefined && raw.nameserver.length === 0) problems.push('dns.nameserver: empty: with enable: true, give at least one server');
  else if (nameservers.length === 0) {
    warnings.push(`DNS THROUGH THE SYSTEM: dns.nameserver ${raw.nameserver === undefined ? 'is not set' : 'has no server sluice can use yet'}, so queries go to the system's resolvers (/etc/resolv.conf) in plain DNS`);
    nameservers = ['system'];
  }
  const policies = Object.entries(raw['nameserver-policy'] ?? {}).map(([key, value]) => {
    const at = `dns.nameserver-policy.${key}`;
    // `geosite:cn,private` and `rule-set:a,b` name several categories or providers after one prefix.
    const prefix = /^(geosite|rule-set):/.exec(key)?.[0] ?? '';
    const entries = key.slice(prefix.length).split(',').map((part) => `${prefix}${part.trim()}`);
    return { names: matcher(domainMatcher(entries, at, context.env, problems)), servers: usable(Array.isArray(value) ? value : [value], at, problems, warnings) };
  });
  const filterMode = raw['fake-ip-filter-mode'] ?? 'blacklist';
  if (filterMode !== 'blacklist' && filterMode !== 'whitelist') problems.push(`dns.fake-ip-filter-mode: sluice supports blacklist and whitelist, got ${showValue(filterMode)}`);
  const filter = domainMatcher(raw['fake-ip-filter'] ?? ['dns.msftnsci.com', 'www.msftnsci.com', 'www.msftconnecttest.com'], 'dns.fake-ip-filter', context.env, problems);
  return {
    listen,
    mode: mode as EnhancedMode,
    fakeIpRange,
    filter: { names: matcher(filter), whitelist: filterMode === 'whitelist' },
    fakeTtl: raw['fake-ip-ttl'] ?? 1,
    ipv6: (raw.ipv6 ?? false) && context.ipv6,
    nameservers,
    fallback: buildFallback(raw, context.env, problems, warnings),
    defaultNameservers: usable(raw['default-nameserver'] ?? [], 'dns.default-nameserver', problems, warnings),
    policies,
    storeFakeIp: context.storeFakeIp,
    hosts: raw['use-hosts'] === false ? undefined : context.hosts,
  };
}

/** `fallback` and `fallback-filter` (geoip on by default, code CN, as in mihomo). */
function buildFallback(raw: RawDns, env: RuleEnv, problems: string[], warnings: string[]): DnsSettings['fallback'] {
  const filter = raw['fallback-filter'] ?? {};
  const ipcidr = filter.ipcidr ?? [];
  ipcidr.forEach((prefix, i) => {
    try {
      parsePrefix(prefix);
    } catch (error) {
      problems.push(`dns.fallback-filter.ipcidr[${i}]: ${(error as Error).message}`);
    }
  });
  const domains = matcher(domainMatcher(filter.domain ?? [], 'dns.fallback-filter.domain', env, problems));
  if (filter.geosite?.length) warnings.push('dns.fallback-filter.geosite: not supported by sluice yet (and deprecated in mihomo), ignored');
  return { servers: usable(raw.fallback ?? [], 'dns.fallback', problems, warnings), geoip: filter.geoip ?? true, geoipCode: (filter['geoip-code'] ?? 'CN').toLowerCase(), ipcidr, domains };
}

/** The entries sluice can use; invalid ones are problems, unsupported ones warnings. */
function usable(entries: readonly string[], at: string, problems: string[], warnings: string[]): string[] {
  return entries.filter((entry, i) => {
    try {
      const parsed = parseNameserver(entry);
      if (!('skipped' in parsed)) return true;
      warnings.push(`${at}[${i}]: ${parsed.skipped}, skipped`);
    } catch (error) {
      problems.push(`${at}[${i}]: ${(error as Error).message}`);
    }
    return false;
  });
}
