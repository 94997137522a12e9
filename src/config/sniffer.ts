import { DomainSet } from '../route/match/domain-set.js';
import { IpRangeSet, parsePrefix } from '../route/match/ip-set.js';
import { parsePortList, type PortRange } from '../route/rule/ports.js';
import { innerFlow } from '../adapter/flow.js';
import type { RuleEnv } from '../route/rule/parse.js';
import type { SnifferConfig, SniffProtocolConfig } from './types.js';

/** A raw `sniffer:` section (validated by the schema). */
export interface RawSniffer {
  /** Sniffing on. */
  enable?: boolean;
  /** Dial the sniffed name (default true). */
  'override-destination'?: boolean;
  /** Sniff flows that arrive with an IP only (default true). */
  'parse-pure-ip'?: boolean;
  /** Per-protocol ports and override. */
  sniff?: Partial<Record<'HTTP' | 'TLS' | 'QUIC', { ports?: unknown; 'override-destination'?: boolean } | null>>;
  /** Old form: protocols to sniff. */
  sniffing?: string[];
  /** Old form: ports for `sniffing`. */
  'port-whitelist'?: unknown;
  /** Domains sniffed even when the flow has a name. */
  'force-domain'?: string[];
  /** Sniffed names that are discarded. */
  'skip-domain'?: string[];
  /** Clients never sniffed. */
  'skip-src-address'?: string[];
  /** Destinations never sniffed. */
  'skip-dst-address'?: string[];
}

const defaultPorts: Record<'HTTP' | 'TLS', string> = { HTTP: '80,8080-8880', TLS: '443,8443' };

function ports(value: unknown, fallback: string, at: string, problems: string[]): PortRange[] {
  const text = value === undefined ? fallback : Array.isArray(value) ? value.join(',') : String(value);
  try {
    return parsePortList(text.replace(/\s+/g, ''));
  } catch (error) {
    problems.push(`${at}: ${(error as Error).message}`);
    return [];
  }
}

/** Host matcher over Clash wildcards plus `rule-set:<name>` and `geosite:<name>` references. */
function domainMatcher(entries: string[] | undefined, at: string, env: RuleEnv, problems: string[]): (host: string) => boolean {
  const set = new DomainSet();
  const others: ((host: string) => boolean)[] = [];
  (entries ?? []).forEach((entry, i) => {
    try {
      const provider = entry.startsWith('rule-set:')
        ? env.providers.get(entry.slice(9))
        : entry.startsWith('geosite:')
          ? env.geosite(entry.slice(8).toLowerCase()).provider
          : undefined;
      if (entry.startsWith('rule-set:') && !provider) throw new Error(`unknown rule provider '${entry.slice(9)}'`);
      if (provider) {
        const probe = innerFlow('', 0, new AbortController().signal);
        others.push((host) => provider.match({ ...probe, domain: host, destination: { host, port: 0 } }));
      } else {
        set.add(entry);
      }
    } catch (error) {
      problems.push(`${at}[${i}]: ${(error as Error).message}`);
    }
  });
  return (host) => set.has(host) || others.some((m) => m(host));
}

function addressMatcher(entries: string[] | undefined, at: string, problems: string[]): (ip: string) => boolean {
  const ranges = (entries ?? []).flatMap((entry, i) => {
    try {
      return [parsePrefix(entry, true)];
    } catch (error) {
      problems.push(`${at}[${i}]: ${(error as Error).message}`);
      return [];
    }
  });
  const set = IpRangeSet.of(ranges);
  return (ip) => set.hasText(ip);
}

/** Reads the `sniffer:` section; undefined when sniffing is off. */
export function buildSniffer(raw: RawSniffer | undefined, env: RuleEnv, problems: string[], timeoutMs: number): SnifferConfig | undefined {
  if (!raw || raw.enable === false || (raw.enable === undefined && raw.sniff === undefined && raw.sniffing === undefined)) return undefined;
  const override = raw['override-destination'] ?? true;
  const protocol = (name: 'HTTP' | 'TLS'): SniffProtocolConfig | undefined => {
    const legacy = raw.sniffing?.some((s) => s.toUpperCase() === name);
    const entry = raw.sniff?.[name];
    if (entry === undefined && !legacy) return undefined;
    const fallback = raw['port-whitelist'] !== undefined && legacy ? raw['port-whitelist'] : undefined;
    return {
      ports: ports(entry?.ports ?? fallback, defaultPorts[name], `sniffer.sniff.${name}.ports`, problems),
      overrideDestination: entry?.['override-destination'] ?? override,
    };
  };
  return {
    tls: protocol('TLS'),
    http: protocol('HTTP'),
    parsePureIp: raw['parse-pure-ip'] ?? true,
    forceDomain: domainMatcher(raw['force-domain'], 'sniffer.force-domain', env, problems),
    skipDomain: domainMatcher(raw['skip-domain'], 'sniffer.skip-domain', env, problems),
    skipSource: addressMatcher(raw['skip-src-address'], 'sniffer.skip-src-address', problems),
    skipDestination: addressMatcher(raw['skip-dst-address'], 'sniffer.skip-dst-address', problems),
    timeoutMs,
  };
}
