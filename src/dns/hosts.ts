/**
 * Top-level `hosts:` (spec dns.md §3.2): names, or Clash wildcards (`*.x`, `+.x`, `.x`), mapped
 * to IP addresses, to one other name (an alias, followed), or to `lan` (this machine's
 * addresses). Exact names win over wildcards, and a more specific wildcard over a broader one.
 * Internal lookups always consult it; the DNS server answers from it with `dns.use-hosts`.
 */
import { isIP } from 'node:net';
import { hostAddresses } from '../common/address.js';
import { DomainSet, normalizePattern } from '../route/match/domain-set.js';

/** What `hosts:` says of a name. */
export type HostsAnswer = { addresses: string[] } | { alias: string } | undefined;

/** Aliases followed before a chain counts as a cycle. */
const maxAliasHops = 8;

/** The parsed `hosts:` section. */
export class Hosts {
  private readonly exact = new Map<string, string[]>();
  /** Wildcard entries, most specific (most labels) first. */
  private readonly wildcards: { names: DomainSet; labels: number; values: string[] }[] = [];

  /** Reads the section; throws naming the key for a value that is not IPs, one alias or `lan`, and for alias cycles. */
  constructor(raw: Readonly<Record<string, string | string[]>>) {
    for (const [key, value] of Object.entries(raw)) {
      const values = (Array.isArray(value) ? value : [value]).map((v) => String(v).trim());
      const ips = values.every((v) => isIP(v) !== 0);
      const alias = values.length === 1 && isIP(values[0]!) === 0;
      if (!ips && !alias) throw new Error(`hosts.${key}: a list holds IP addresses only (an alias is one name)`);
      if (alias && values[0] !== 'lan' && !/^[^.\s]+(\.[^.\s]+)+$/.test(values[0]!)) throw new Error(`hosts.${key}: '${values[0]}' is neither an IP address, a name of two or more labels, nor lan`);
      const pattern = normalizePattern(key);
      if (/^[+.*]/.test(pattern) || pattern.includes('*')) {
        const names = new DomainSet();
        names.add(pattern);
        this.wildcards.push({ names, labels: pattern.split('.').length, values });
      } else this.exact.set(pattern, values);
    }
    this.wildcards.sort((a, b) => b.labels - a.labels);
    for (const name of this.exact.keys()) this.follow(name);
  }

  /** What the section says of `name` (lower-case, no trailing dot). */
  lookup(rawName: string): HostsAnswer {
    const name = rawName.toLowerCase().replace(/\.$/, '');
    const values = this.exact.get(name) ?? this.wildcards.find((entry) => entry.names.has(name))?.values;
    if (!values) return undefined;
    if (values[0] === 'lan') return { addresses: lanAddresses() };
    return isIP(values[0]!) === 0 ? { alias: values[0]! } : { addresses: values };
  }

  /** The addresses `name` ends at through aliases inside the section; undefined when the chain leaves it (the last alias must be resolved). */
  follow(name: string): { addresses: string[] } | { alias: string } | undefined {
    let answer = this.lookup(name);
    for (let hops = 0; answer && 'alias' in answer; hops++) {
      if (hops >= maxAliasHops) throw new Error(`hosts.${name}: the aliases from it form a cycle or a chain longer than ${maxAliasHops}`);
      const next = this.lookup(answer.alias);
      if (!next) return answer;
      answer = next;
    }
    return answer;
  }
}

/** This machine's addresses that other hosts can reach (not loopback, not link-local). */
function lanAddresses(): string[] {
  return hostAddresses()
    .filter((entry) => !entry.internal && !entry.address.startsWith('fe80:') && !entry.address.startsWith('169.254.'))
    .map((entry) => entry.address);
}

/** Reads `hosts:` (with mihomo's `localhost: 127.0.0.1` unless the section maps it); problems go to `problems`. */
export function buildHosts(raw: Readonly<Record<string, string | string[]>> | undefined, problems: string[]): Hosts {
  try {
    return new Hosts({ localhost: '127.0.0.1', ...raw });
  } catch (error) {
    problems.push((error as Error).message);
    return new Hosts({});
  }
}
