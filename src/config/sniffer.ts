import { IpRangeSet, parsePrefix } from '../route/match/ip-set.js';
import { parsePortList, type PortRange } from '../route/rule/ports.js';
import { domainMatcher } from './domain-matcher.js';
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
