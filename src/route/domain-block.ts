import type { Flow } from '../adapter/flow.js';
import type { Rule } from '../adapter/router.js';
import { ruleHost } from './rule/base.js';
import { DomainRule, DomainSuffixRule } from './rule/domain.js';
import { properSuffixes } from './match/domain-set.js';

/**
 * A run of consecutive DOMAIN / DOMAIN-SUFFIX rules compiled into two hash maps, so a flow
 * costs one probe per label of its host instead of one test per rule. The first matching rule
 * in list order wins, as if the rules were tested one by one.
 */
export class DomainBlock {
  private readonly exact = new Map<string, number>();
  private readonly suffix = new Map<string, number>();

  constructor(
    /** The rules, in list order. */
    readonly rules: readonly Rule[],
  ) {
    rules.forEach((rule, i) => {
      const map = rule instanceof DomainRule ? this.exact : this.suffix;
      if (!map.has(rule.payload)) map.set(rule.payload, i);
    });
  }

  /** True for the rule types a block can hold. */
  static accepts(rule: Rule): boolean {
    return rule instanceof DomainRule || rule instanceof DomainSuffixRule;
  }

  /** Index of the first matching rule in list order, or -1. */
  first(flow: Readonly<Flow>): number {
    const host = ruleHost(flow);
    if (host === undefined) return -1;
    let best = this.exact.get(host) ?? this.suffix.get(host) ?? Infinity;
    for (const suffix of properSuffixes(host)) {
      const index = this.suffix.get(suffix);
      if (index !== undefined && index < best) best = index;
    }
    return best === Infinity ? -1 : best;
  }
}

/** Groups runs of at least `minRun` DOMAIN / DOMAIN-SUFFIX rules into blocks; other rules stay as they are. */
export function compileRules(rules: readonly Rule[], minRun = 3): (Rule | DomainBlock)[] {
  const out: (Rule | DomainBlock)[] = [];
  let run: Rule[] = [];
  const flush = (): void => {
    if (run.length >= minRun) out.push(new DomainBlock(run));
    else out.push(...run);
    run = [];
  };
  for (const rule of rules) {
    if (DomainBlock.accepts(rule)) run.push(rule);
    else {
      flush();
      out.push(rule);
    }
  }
  flush();
  return out;
}
