import { parsePortList } from '../route/rule/ports.js';
import { nearest, showValue } from './errors.js';
import { MemberFilter, type FilterCandidate } from '../route/group/member-filter.js';
import { groupBindingOf } from './outbound-sockets.js';
import type { GroupConfig, GroupType } from './types.js';

/** A raw `proxy-groups:` entry (validated by the schema). */
export interface RawGroup {
  /** Group name. */
  name: string;
  /** Group type. */
  type: GroupType;
  /** Member names. */
  proxies?: string[];
  /** proxy-providers whose proxies join the group. */
  use?: string[];
  /** Health-check URL. */
  url?: string;
  /** Seconds between health checks. */
  interval?: number;
  /** Milliseconds per health check. */
  timeout?: number;
  /** Skip checks while unused. */
  lazy?: boolean;
  /** url-test hysteresis, ms. */
  tolerance?: number;
  /** Statuses that count as healthy. */
  'expected-status'?: string | number;
  /** load-balance strategy. */
  strategy?: GroupConfig['strategy'];
  /** Never carry UDP. */
  'disable-udp'?: boolean;
  /** Other mihomo keys (filter, include-all, hidden, icon, …). */
  [key: string]: unknown;
}

/** Group keys mihomo has that this build ignores (warned about). */
const ignoredGroupKeys = ['max-failed-times'];

const defaultUrl = 'https://www.gstatic.com/generate_204';

/** mihomo's adapter type names of the group types (what `exclude-type` and the controller see). */
const groupAdapterTypes: Readonly<Record<GroupType, string>> = {
  select: 'Selector', 'url-test': 'URLTest', fallback: 'Fallback', 'load-balance': 'LoadBalance', relay: 'Relay',
};

/** mihomo's adapter type names of the built-in outbounds. */
const builtinAdapterTypes: Readonly<Record<string, string>> = { DIRECT: 'Direct', REJECT: 'Reject', 'REJECT-DROP': 'RejectDrop', PASS: 'Pass', COMPATIBLE: 'Compatible' };

/** What groups may take their members from. */
export interface GroupSources {
  /** `proxies:` entries, in config order, with their adapter type names. */
  proxies: readonly FilterCandidate[];
  /** `proxy-providers:` names, in config order. */
  providers: readonly string[];
  /** Built-in outbound names. */
  builtins: readonly string[];
  /** Collects member names defined nowhere (they become outbounds that fail every flow). */
  undefinedNames: Set<string>;
}

/**
 * Validates groups: unique names (also against proxies), known members and providers, no
 * cycles. A member defined nowhere (mihomo refuses the config) is kept as an outbound that fails
 * every flow, with a warning. Members are `proxies:`, then (with `include-all` / `include-all-proxies`) every
 * proxy that `filter` keeps, less what `exclude-filter` / `exclude-type` drop; providers'
 * members join at run time through the same filters. A group left with no member uses
 * COMPATIBLE (DIRECT), as in mihomo. Adds the implicit GLOBAL select group unless the config
 * defines one.
 */
export function buildGroups(raw: RawGroup[], sources: GroupSources, problems: string[], warnings: string[]): GroupConfig[] {
  const { proxies, providers, builtins } = sources;
  const names = new Set([...builtins, ...proxies.map((p) => p.name)]);
  raw.forEach((g, i) => {
    if (names.has(g.name)) problems.push(`proxy-groups[${i}].name: ${showValue(g.name)} is already a proxy, group or built-in name`);
    names.add(g.name);
  });
  const typeOf = new Map<string, string>([...Object.entries(builtinAdapterTypes), ...proxies.map((p): [string, string] => [p.name, p.type])]);
  for (const g of raw) typeOf.set(g.name, groupAdapterTypes[g.type]);
  const groups = raw.map((g, i): GroupConfig => {
    const at = `proxy-groups[${i}]`;
    const used = ignoredGroupKeys.filter((k) => g[k] !== undefined);
    if (used.length > 0) warnings.push(`${at}: ${used.join(', ')} not supported yet, ignored (group ${showValue(g.name)})`);
    const explicit = g.proxies ?? [];
    explicit.forEach((m, j) => {
      if (names.has(m)) return;
      const hint = nearest(m, [...names]);
      warnings.push(`${at}.proxies[${j}]: unknown member ${showValue(m)} in group ${showValue(g.name)}${hint ? ` (did you mean '${hint}'?)` : ''}: it is not defined, so flows through it fail`);
      sources.undefinedNames.add(m);
    });
    const includeProxies = g['include-all'] === true || g['include-all-proxies'] === true;
    const use = g['include-all'] === true || g['include-all-providers'] === true ? [...providers] : (g.use ?? []);
    (g.use ?? []).forEach((name, j) => {
      if (!providers.includes(name)) problems.push(`${at}.use[${j}]: unknown proxy provider ${showValue(name)} in group ${showValue(g.name)}`);
    });
    const filter = { filter: g.filter as string | undefined, excludeFilter: g['exclude-filter'] as string | undefined, excludeType: g['exclude-type'] as string | undefined };
    let members = explicit;
    try {
      const memberFilter = new MemberFilter(filter);
      const candidates = explicit.map((name) => ({ name, type: typeOf.get(name) ?? '' }));
      if (includeProxies) candidates.push(...memberFilter.pick(proxies).filter((p) => !explicit.includes(p.name)));
      members = memberFilter.exclude(candidates).map((c) => c.name);
    } catch (error) {
      problems.push(`${at}.${(error as Error).message}`);
    }
    if (explicit.length === 0 && use.length === 0 && !includeProxies) {
      problems.push(`${at}: group ${showValue(g.name)} has no members: set proxies, use or include-all`);
    } else if (members.length === 0 && use.length === 0) {
      warnings.push(`${at}: no proxy is left in group ${showValue(g.name)} after its filters; it uses COMPATIBLE (DIRECT), as in mihomo`);
      members = ['COMPATIBLE'];
    }
    if (g.type === 'relay' && use.length > 0) problems.push(`${at}.use: a relay group's chain is its proxies: list, not providers (group ${showValue(g.name)})`);
    const status = g['expected-status'] === undefined ? undefined : String(g['expected-status']);
    if (status !== undefined && status !== '*') {
      try {
        parsePortList(status);
      } catch (error) {
        problems.push(`${at}.expected-status: ${(error as Error).message}`);
      }
    }
    const auto = g.type === 'url-test' || g.type === 'fallback' || g.type === 'load-balance';
    return {
      name: g.name,
      type: g.type,
      members,
      use,
      filter,
      url: g.url ?? defaultUrl,
      intervalSeconds: g.interval ?? (auto ? 300 : 0),
      timeoutMs: g.timeout ?? 5000,
      lazy: g.lazy ?? true,
      toleranceMs: g.tolerance ?? 0,
      expectedStatus: status,
      strategy: g.strategy ?? 'consistent-hashing',
      disableUdp: g['disable-udp'] ?? false,
      hidden: g.hidden === true,
      icon: typeof g.icon === 'string' ? g.icon : undefined,
      binding: groupBindingOf(g),
    };
  });
  checkCycles(groups, problems);
  if (!groups.some((g) => g.name === 'GLOBAL')) {
    groups.push({
      name: 'GLOBAL', type: 'select', members: ['DIRECT', 'REJECT', ...proxies.map((p) => p.name), ...groups.map((g) => g.name)], use: [], filter: {},
      url: defaultUrl, intervalSeconds: 0, timeoutMs: 5000, lazy: true, toleranceMs: 0, strategy: 'consistent-hashing', disableUdp: false, hidden: false,
    });
  }
  return groups;
}

function checkCycles(groups: GroupConfig[], problems: string[]): void {
  const byName = new Map(groups.map((g) => [g.name, g]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    const group = byName.get(name);
    if (!group || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      problems.push(`proxy-groups: cycle ${[...path, name].join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const member of group.members) visit(member, [...path, name]);
    state.set(name, 'done');
  };
  for (const g of groups) visit(g.name, []);
}
