import { join } from 'node:path';
import type { Outbound } from '../../adapter/outbound.js';
import type { GroupConfig } from '../../config/types.js';
import type { DelayHistory } from './delay-history.js';
import { Group } from './group.js';
import { LoadBalanceGroup } from './load-balance.js';
import { RelayGroup } from './relay.js';
import { SelectGroup } from './select.js';
import { SelectionStore } from './selection-store.js';
import { AutoGroup } from './url-test.js';

/** Builds every group and links members by name; `outbounds` receives the groups too. */
export function buildGroupOutbounds(
  configs: readonly GroupConfig[],
  outbounds: Map<string, Outbound>,
  storeDir: string | undefined,
  history?: DelayHistory,
): (Group | RelayGroup)[] {
  const store = storeDir ? new SelectionStore(join(storeDir, 'cache.json')) : undefined;
  const groups = configs.map((c): Group | RelayGroup => {
    const options = { name: c.name, members: c.members, disableUdp: c.disableUdp };
    const check = { url: c.url, intervalMs: c.intervalSeconds * 1000, timeoutMs: c.timeoutMs, lazy: c.lazy, expectedStatus: c.expectedStatus };
    switch (c.type) {
      case 'select':
        return new SelectGroup(options, store);
      case 'url-test':
      case 'fallback':
        return new AutoGroup(options, c.type, check, c.toleranceMs, history);
      case 'load-balance':
        return new LoadBalanceGroup(options, c.strategy, check, history);
      case 'relay':
        return new RelayGroup(c.name, c.members);
    }
  });
  for (const group of groups) outbounds.set(group.name, group);
  for (const group of groups) group.link(outbounds);
  return groups;
}
