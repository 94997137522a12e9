import { parsePortList } from '../route/rule/ports.js';
import { showValue } from './errors.js';
import type { GroupConfig, GroupType } from './types.js';

/** A raw `proxy-groups:` entry (validated by the schema). */
export interface RawGroup {
  /** Group name. */
  name: string;
  /** Group type. */
  type: GroupType;
  /** Member names. */
  proxies?: string[];
  /** proxy-providers (ignored: not supported yet). */
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
  /** mihomo keys this build ignores (filter, use, …), warned about. */
  [key: string]: unknown;
}

/** Group keys mihomo has that this build ignores (warned about). */
const ignoredGroupKeys = ['use', 'filter', 'exclude-filter', 'exclude-type', 'include-all', 'include-all-proxies', 'include-all-providers', 'max-failed-times', 'interface-name', 'routing-mark'];

const defaultUrl = 'https://www.gstatic.com/generate_204';

/**
 * Validates groups: unique names (also against proxies), known members, no cycles, at least one
 * member. Adds the implicit GLOBAL select group unless the config defines one.
 */
export function buildGroups(raw: RawGroup[], proxyNames: string[], builtins: readonly string[], problems: string[], warnings: string[]): GroupConfig[] {
  const names = new Set([...builtins, ...proxyNames]);
  raw.forEach((g, i) => {
    if (names.has(g.name)) problems.push(`proxy-groups[${i}].name: ${showValue(g.name)} is already a proxy, group or built-in name`);
    names.add(g.name);
  });
  const groups = raw.map((g, i): GroupConfig => {
    const at = `proxy-groups[${i}]`;
    const used = ignoredGroupKeys.filter((k) => g[k] !== undefined);
    if (used.length > 0) warnings.push(`${at}: ${used.join(', ')} not supported yet, ignored (group ${showValue(g.name)})`);
    const members = g.proxies ?? [];
    members.forEach((m, j) => {
      if (!names.has(m)) problems.push(`${at}.proxies[${j}]: unknown member ${showValue(m)} in group ${showValue(g.name)}`);
    });
    if (members.length === 0) problems.push(`${at}.proxies: group ${showValue(g.name)} has no members`);
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
      url: g.url ?? defaultUrl,
      intervalSeconds: g.interval ?? (auto ? 300 : 0),
      timeoutMs: g.timeout ?? 5000,
      lazy: g.lazy ?? true,
      toleranceMs: g.tolerance ?? 0,
      expectedStatus: status,
      strategy: g.strategy ?? 'consistent-hashing',
      disableUdp: g['disable-udp'] ?? false,
    };
  });
  checkCycles(groups, problems);
  if (!groups.some((g) => g.name === 'GLOBAL')) {
    groups.push({
      name: 'GLOBAL', type: 'select', members: ['DIRECT', 'REJECT', ...proxyNames, ...groups.map((g) => g.name)],
      url: defaultUrl, intervalSeconds: 0, timeoutMs: 5000, lazy: true, toleranceMs: 0, strategy: 'consistent-hashing', disableUdp: false,
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
