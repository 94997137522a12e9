import type { Flow } from '../../adapter/flow.js';
import type { Rule } from '../../adapter/router.js';
import { DomainSet } from '../match/domain-set.js';
import { IpRangeSet, parsePrefix, type IpRange } from '../match/ip-set.js';
import { destinationIp, excerpt, ruleHost } from '../rule/base.js';
import { IpCidrRule } from '../rule/ip-cidr.js';
import { NeverRule } from '../rule/match.js';
import { maxRegexBytesPerList, RegexBudget } from '../rule/domain.js';
import type { MrsContent } from './mrs.js';

/** Provider behaviours (clash-rules.md §7.3). */
export type ProviderBehavior = 'domain' | 'ipcidr' | 'classical';

/** The matching structure built from one version of a provider's entries. */
export interface ProviderContent {
  /** Entries as counted in the source (mrs: the header's count). */
  readonly count: number;
  /** True when matching compares the destination IP (ipcidr, or classical with such a rule). */
  readonly needsIp: boolean;
  /** True when the flow matches any entry. */
  match(flow: Readonly<Flow>): boolean;
  /** ipcidr behaviour: the ranges (tunnel exclude-routes turn them into routes). */
  readonly ipRanges?: IpRangeSet;
}

/** Parses a classical entry (a rule without target); throws with the reason. */
export type ConditionParser = (entry: string) => Rule;

/** Where entry `index` came from, for warnings (`line 12`, `payload[3]`). */
export type EntryLocator = (index: number) => string;

/** Entries located by their position in the list. */
export const byIndex: EntryLocator = (index) => `entry ${index + 1}`;

/** Empty content: what a provider has before its first successful load. */
export const emptyContent: ProviderContent = { count: 0, needsIp: false, match: () => false };

/** Domain behaviour: a Clash wildcard domain set; bad entries are skipped with a warning. */
export function domainContent(entries: readonly string[], warn: (message: string) => void, count = entries.length, where: EntryLocator = byIndex): ProviderContent {
  const set = new DomainSet();
  entries.forEach((entry, i) => {
    try {
      set.add(entry);
    } catch (error) {
      warn(`${where(i)}: skipped ${(error as Error).message}`);
    }
  });
  return {
    count,
    needsIp: false,
    match: (flow) => {
      const host = ruleHost(flow);
      return host !== undefined && set.has(host);
    },
  };
}

/** IP-CIDR behaviour: sorted merged ranges. */
function ipContent(ranges: Iterable<IpRange>, count: number): ProviderContent {
  const set = IpRangeSet.of(ranges);
  return {
    count,
    needsIp: count > 0,
    ipRanges: set,
    match: (flow) => {
      const ip = destinationIp(flow);
      return ip !== undefined && set.has(ip);
    },
  };
}

/** IP-CIDR behaviour from prefixes; bad entries are skipped with a warning. */
export function cidrContent(entries: readonly string[], warn: (message: string) => void, where: EntryLocator = byIndex): ProviderContent {
  const ranges: IpRange[] = [];
  entries.forEach((entry, i) => {
    try {
      ranges.push(parsePrefix(entry));
    } catch (error) {
      warn(`${where(i)}: skipped ${(error as Error).message}`);
    }
  });
  return ipContent(ranges, ranges.length);
}

/** Content decoded from an .mrs file; the behaviour must be the configured one. */
export function mrsContent(mrs: MrsContent, behavior: ProviderBehavior, warn: (message: string) => void): ProviderContent {
  if (mrs.behavior !== behavior) throw new Error(`the mrs file holds ${mrs.behavior} rules, but behavior is ${behavior}`);
  if (mrs.behavior === 'ipcidr') {
    const ranges = mrs.ranges.map(([from, to]): IpRange => {
      const start = parsePrefix(from, true).start;
      const end = parsePrefix(to, true).start;
      return { family: start.family, start, end };
    });
    return ipContent(ranges, mrs.count);
  }
  const withComma = mrs.keys.filter((k) => k.includes(','));
  if (withComma.length > 0) {
    warn(`${withComma.length} of ${mrs.keys.length} domain keys contain ',' (such as '${withComma[0]}'): the file was built from a classical list and these keys never match`);
  }
  // mrs stores `+.x` for "below x"; our `.x` means the same.
  const patterns = mrs.keys.filter((k) => !k.includes(',')).map((k) => (k.startsWith('+.') ? k.slice(1) : k));
  return domainContent(patterns, warn, mrs.count);
}

/**
 * Classical behaviour: DOMAIN/DOMAIN-SUFFIX entries hashed into one domain set, plain
 * IP-CIDR entries merged into one range set, everything else (keywords, ports, logic…)
 * tried in order after those. Bad entries are skipped with a warning.
 */
export function classicalContent(entries: readonly string[], parse: ConditionParser, warn: (message: string) => void, where: EntryLocator = byIndex): ProviderContent {
  const domains = new DomainSet();
  const cidrs: IpRange[] = [];
  let cidrsResolve = false;
  const others: Rule[] = [];
  let count = 0;
  const regexes = new RegexBudget();
  for (const [i, entry] of entries.entries()) {
    if (!regexes.take(entry)) {
      warn(`${where(i)}: skipped: DOMAIN-REGEX entries of one provider may total at most ${maxRegexBytesPerList >> 10} KiB`);
      continue;
    }
    if (!entry.includes(',')) {
      warn(`${where(i)}: skipped ${excerpt(entry, 80)}: a classical entry is TYPE,payload`);
      continue;
    }
    let rule: Rule;
    try {
      rule = parse(entry);
    } catch (error) {
      warn(`${where(i)}: skipped ${excerpt(entry, 80)}: ${(error as Error).message}`);
      continue;
    }
    count++;
    const type = rule.type;
    if (rule instanceof NeverRule) warn(`${type} entries never match in sluice`);
    if (type === 'DOMAIN') domains.add(rule.payload);
    else if (type === 'DOMAIN-SUFFIX') domains.add(`+.${rule.payload}`);
    else if (rule instanceof IpCidrRule && !rule.source) {
      cidrs.push(parsePrefix(rule.payload.trim(), true));
      cidrsResolve ||= rule.needsIp;
    } else others.push(rule);
  }
  const set = IpRangeSet.of(cidrs);
  const hasDomains = domains.size > 0;
  const hasCidrs = set.size > 0;
  return {
    count,
    needsIp: cidrsResolve || others.some((r) => r.needsIp),
    match: (flow) => {
      if (hasDomains) {
        const host = ruleHost(flow);
        if (host !== undefined && domains.has(host)) return true;
      }
      if (hasCidrs) {
        const ip = destinationIp(flow);
        if (ip !== undefined && set.has(ip)) return true;
      }
      for (const rule of others) if (rule.match(flow)) return true;
      return false;
    },
  };
}
