/**
 * Hit and miss counts per rule, for the controller's `GET /rules` (`extra.hitCount`, `hitAt`,
 * `missCount`, `missAt`, which metacubexd shows). A hit costs one map lookup per routed flow;
 * misses are derived when asked: a flow decided by rule j (or by none) was evaluated by every
 * rule before j without being decided there, which is what mihomo counts as a miss.
 */
import type { Rule } from '../adapter/router.js';

/** One rule's counts. */
export interface RuleCounts {
  /** Flows this rule decided. */
  hitCount: number;
  /** When it last decided one (epoch ms; 0: never). */
  hitAt: number;
  /** Flows that went past it. */
  missCount: number;
  /** When one last went past it (epoch ms; 0: never). */
  missAt: number;
}

/** The counts of one rule list. */
export class RuleStats {
  private readonly index: Map<Rule, number>;
  private readonly hits: Float64Array;
  private readonly hitAt: Float64Array;
  private unmatched = 0;
  private unmatchedAt = 0;

  constructor(private readonly rules: readonly Rule[]) {
    this.index = new Map(rules.map((rule, i) => [rule, i]));
    this.hits = new Float64Array(rules.length);
    this.hitAt = new Float64Array(rules.length);
  }

  /** Records a routed flow: decided by `rule` (a top-level rule, or one inside SUB-RULE lists: not counted), or by none. */
  record(rule: Rule | undefined, now = Date.now()): void {
    const i = rule === undefined ? undefined : this.index.get(rule);
    if (i === undefined) {
      if (rule !== undefined) return;
      this.unmatched++;
      this.unmatchedAt = now;
      return;
    }
    this.hits[i]!++;
    this.hitAt[i] = now;
  }

  /** The counts of every rule, in order. */
  counts(): RuleCounts[] {
    const out: RuleCounts[] = new Array(this.rules.length);
    let later = this.unmatched;
    let laterAt = this.unmatchedAt;
    for (let i = this.rules.length - 1; i >= 0; i--) {
      out[i] = { hitCount: this.hits[i]!, hitAt: this.hitAt[i]!, missCount: later, missAt: laterAt };
      later += this.hits[i]!;
      laterAt = Math.max(laterAt, this.hitAt[i]!);
    }
    return out;
  }
}
