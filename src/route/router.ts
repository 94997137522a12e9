import type { Flow } from '../adapter/flow.js';
import type { Decision, Router, Rule } from '../adapter/router.js';

/** Resolves a domain to one IP, or undefined when it cannot (failures never abort routing). */
export type ResolveIp = (host: string) => Promise<string | undefined>;

/** Clash routing mode: walk the rules, send everything direct, or everything to one proxy. */
export type RouterMode = 'rule' | 'direct' | 'global';

/** First-match rule router with mihomo's lazy DNS: a domain is resolved only when an IP rule needs it. */
export class RuleRouter implements Router {
  constructor(
    private readonly rules: readonly Rule[],
    private readonly resolve: ResolveIp,
    private readonly mode: RouterMode = 'rule',
    private readonly globalTarget = 'DIRECT',
  ) {}

  /** The rules in order, for `sluice check` and the controller. */
  list(): readonly Rule[] {
    return this.rules;
  }

  async decide(flow: Flow): Promise<Decision> {
    if (this.mode === 'direct') return { outbound: 'DIRECT' };
    if (this.mode === 'global') return { outbound: this.globalTarget };
    let resolved = flow.ip !== undefined;
    for (const rule of this.rules) {
      if (!resolved && rule.needsIp) {
        resolved = true;
        flow.ip = await this.resolve(flow.domain ?? flow.destination.host);
      }
      if (rule.match(flow)) return { outbound: rule.target, rule };
    }
    return { outbound: 'DIRECT' };
  }
}
