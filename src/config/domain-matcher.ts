/** Name matchers that config sections share (sniffer domains, DNS filters and policies). */
import { innerFlow } from '../adapter/flow.js';
import { DomainSet } from '../route/match/domain-set.js';
import type { RuleEnv } from '../route/rule/parse.js';

/** Host matcher over Clash wildcards plus `rule-set:<name>` and `geosite:<name>` references. */
export function domainMatcher(entries: string[] | undefined, at: string, env: RuleEnv, problems: string[]): (host: string) => boolean {
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
