import { join } from 'node:path';
import type { Outbound } from '../../adapter/outbound.js';
import type { GroupConfig } from '../../config/types.js';
import type { ProviderOutbounds } from '../proxy-provider/outbounds.js';
import type { DelayHistory } from './delay-history.js';
import { Group } from './group.js';
import { LoadBalanceGroup } from './load-balance.js';
import { MemberFilter } from './member-filter.js';
import { RelayGroup } from './relay.js';
import { SelectGroup } from './select.js';
import { SelectionStore } from './selection-store.js';
import { AutoGroup } from './url-test.js';

/** What groups are built with besides their configs. */
export interface GroupDeps {
  /** Where select choices are remembered (cache.json); none for the bundled config. */
  storeDir: string | undefined;
  /** Every delay test's result. */
  history?: DelayHistory;
  /** The proxy providers' outbounds, for groups with `use`. */
  providers?: ProviderOutbounds;
  /** Told when a provider update takes a group's chosen member away. */
  notice?: (message: string) => void;
  /** `unified-delay` of the config. */
  unifiedDelay?: boolean;
}

/**
 * Builds every group and links members by name; `outbounds` receives the groups too. Groups
 * that use proxy providers take the providers' proxies through their filters, and are linked
 * again whenever one of those providers changes.
 */
export function buildGroupOutbounds(configs: readonly GroupConfig[], outbounds: Map<string, Outbound>, deps: GroupDeps): (Group | RelayGroup)[] {
  const store = deps.storeDir ? new SelectionStore(join(deps.storeDir, 'cache.json')) : undefined;
  const users = new Map<string, Group[]>();
  const groups = configs.map((c): Group | RelayGroup => {
    const options = { name: c.name, members: c.members, disableUdp: c.disableUdp, providerMembers: providerMembers(c, deps.providers), notice: deps.notice, hidden: c.hidden, icon: c.icon, binding: c.binding };
    const check = { url: c.url, intervalMs: c.intervalSeconds * 1000, timeoutMs: c.timeoutMs, lazy: c.lazy, expectedStatus: c.expectedStatus, unifiedDelay: deps.unifiedDelay };
    const group = ((): Group | RelayGroup => {
      switch (c.type) {
        case 'select':
          return new SelectGroup(options, store);
        case 'url-test':
        case 'fallback':
          return new AutoGroup(options, c.type, check, c.toleranceMs, deps.history);
        case 'load-balance':
          return new LoadBalanceGroup(options, c.strategy, check, deps.history);
        case 'relay':
          return new RelayGroup(c.name, c.members);
      }
    })();
    if (group instanceof Group) for (const name of c.use) users.set(name, [...(users.get(name) ?? []), group]);
    return group;
  });
  for (const group of groups) outbounds.set(group.name, group);
  for (const group of groups) group.link(outbounds);
  deps.providers?.onChange((name) => {
    for (const group of users.get(name) ?? []) group.relink();
  });
  return groups;
}

/** The members a group's providers give it now, through its filters; undefined for a group without `use`. */
function providerMembers(config: GroupConfig, providers: ProviderOutbounds | undefined): (() => readonly Outbound[]) | undefined {
  if (config.use.length === 0 || !providers) return undefined;
  const filter = new MemberFilter(config.filter);
  return () => filter.exclude(filter.pick(config.use.flatMap((name) => providers.of(name))));
}
