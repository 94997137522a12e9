import type { Flow } from '../adapter/flow.js';
import { isGroup, type Outbound, type OutboundGroup } from '../adapter/outbound.js';
import type { Decision, Router, Rule } from '../adapter/router.js';
import { LogicRule, SubRule } from './rule/logic.js';
import { RuleSetRule } from './rule/rule-set.js';
import { compileRules, DomainBlock } from './domain-block.js';
import { RuleStats } from './rule-stats.js';

/** Resolves a domain to one IP, or undefined when it cannot (failures never abort routing). */
export type ResolveIp = (host: string) => Promise<string | undefined>;

/** Clash routing mode: walk the rules, send everything direct, or everything to one proxy. */
export type RouterMode = 'rule' | 'direct' | 'global';

/** What the router needs besides the rules. */
export interface RouterOptions {
  /** The rules, in order. */
  rules: readonly Rule[];
  /** Every outbound and group by name, built-ins (DIRECT, REJECT, PASS…) included. */
  outbounds: ReadonlyMap<string, Outbound>;
  /** `sub-rules:` lists by name. */
  subRules?: ReadonlyMap<string, readonly Rule[]>;
  /** Name resolution for IP rules (cached, with a timeout, by the caller). */
  resolve: ResolveIp;
  /** Routing mode. */
  mode?: RouterMode;
  /** Where `mode: global` sends everything (the GLOBAL group). */
  globalTarget?: string;
}

/** The groups of a decision that went through none (shared, never mutated). */
const noGroups: readonly OutboundGroup[] = [];

/** Per-decision state the rule walk shares with its driver. */
interface WalkState {
  /** True once the destination IP is known or a lookup was tried. */
  resolved: boolean;
}

/**
 * First-match rule router with mihomo's lazy DNS: a domain is resolved only when an IP rule
 * needs it, at most once per flow. A rule whose target is PASS (also through a group), or a
 * target that cannot carry UDP for a UDP flow, is skipped. No match means DIRECT.
 * A decision that needs no lookup is returned synchronously.
 */
export class RuleRouter implements Router {
  private readonly subRules: ReadonlyMap<string, readonly Rule[]>;
  /** The rules with runs of domain rules compiled into blocks; undefined when SUB-RULE needs the general walk. */
  private readonly steps: (Rule | DomainBlock)[] | undefined;
  /**
   * Per step: 0 never needs the IP, 1 always does, 2 ask the rule each time (its provider's
   * content can change). Saves a megamorphic getter call per rule on the hot path.
   */
  private readonly stepNeedsIp: Uint8Array;

  /** Routing mode; the controller's PATCH /configs changes it for new flows. */
  mode: RouterMode;
  /** Rules switched off at runtime (PATCH /rules/disable): they never match until a reload. */
  readonly disabled = new Set<Rule>();

  constructor(private readonly options: RouterOptions) {
    this.mode = options.mode ?? 'rule';
    this.stats = new RuleStats(options.rules);
    this.subRules = options.subRules ?? new Map();
    this.steps = options.rules.some((r) => r instanceof SubRule) ? undefined : compileRules(options.rules);
    this.stepNeedsIp = Uint8Array.from(this.steps ?? [], (step) =>
      step instanceof DomainBlock ? 0 : step instanceof RuleSetRule || step instanceof LogicRule ? 2 : step.needsIp ? 1 : 0,
    );
  }

  /** Hit and miss counts of the rules (`GET /rules`). */
  readonly stats: RuleStats;

  /** Counts a flow's decision for `GET /rules` (in rule mode; the other modes walk no rules). */
  recordDecision(decision: Decision): void {
    if (this.mode === 'rule') this.stats.record(decision.rule);
  }

  /** The rules in order, for `sluice check` and the controller. */
  list(): readonly Rule[] {
    return this.options.rules;
  }

  decide(flow: Flow): Decision | Promise<Decision> {
    const mode = this.mode;
    if (mode !== 'rule') return this.settle(mode === 'direct' ? 'DIRECT' : (this.options.globalTarget ?? 'DIRECT'), flow) ?? this.direct(flow);
    const state: WalkState = { resolved: flow.ip !== undefined };
    if (this.steps) {
      const result = this.run(this.steps, flow, state, 0);
      if (typeof result !== 'number') return result ?? this.direct(flow);
      return this.resume(this.steps, flow, state, result);
    }
    const walk = this.walk(this.options.rules, flow, state);
    const step = walk.next();
    if (step.done) return step.value ?? this.direct(flow);
    return this.finish(walk, flow, state);
  }

  private async finish(walk: Generator<void, Decision | undefined>, flow: Flow, state: WalkState): Promise<Decision> {
    let step: IteratorResult<void, Decision | undefined>;
    do {
      flow.ip = await this.options.resolve(flow.domain ?? flow.destination.host);
      state.resolved = true;
      step = walk.next();
    } while (!step.done);
    return step.value ?? this.direct(flow);
  }

  /**
   * The fast walk (no SUB-RULE): returns the decision, undefined for no match, or the index
   * of the step that needs the destination resolved first.
   */
  private run(steps: readonly (Rule | DomainBlock)[], flow: Flow, state: WalkState, from: number): Decision | undefined | number {
    const needs = this.stepNeedsIp;
    for (let i = from; i < steps.length; i++) {
      const step = steps[i]!;
      if (step instanceof DomainBlock) {
        const decision = this.block(step, flow);
        if (decision) return decision;
        continue;
      }
      if (!state.resolved && needs[i] !== 0 && (needs[i] === 1 || step.needsIp)) return i;
      if (step.match(flow)) {
        const decision = this.settle(step.target, flow, step);
        if (decision) return decision;
      }
    }
    return undefined;
  }

  private async resume(steps: readonly (Rule | DomainBlock)[], flow: Flow, state: WalkState, at: number): Promise<Decision> {
    flow.ip = await this.options.resolve(flow.domain ?? flow.destination.host);
    state.resolved = true;
    const result = this.run(steps, flow, state, at);
    return (typeof result === 'number' ? undefined : result) ?? this.direct(flow);
  }

  /** The first rule of a domain block that matches and whose target is usable. */
  private block(block: DomainBlock, flow: Flow): Decision | undefined {
    const first = block.first(flow);
    if (first < 0) return undefined;
    for (let i = first; i < block.rules.length; i++) {
      const rule = block.rules[i]!;
      if (i > first && !rule.match(flow)) continue;
      const decision = this.settle(rule.target, flow, rule);
      if (decision) return decision;
    }
    return undefined;
  }

  /** Walks a rule list (any list, SUB-RULE included); yields when an IP rule needs the destination resolved first. */
  private *walk(rules: readonly Rule[], flow: Flow, state: WalkState): Generator<void, Decision | undefined> {
    for (const rule of rules) {
      if (!state.resolved && rule.needsIp) yield;
      if (!rule.match(flow)) continue;
      if (rule instanceof SubRule) {
        const inner = yield* this.walk(this.subRules.get(rule.list) ?? [], flow, state);
        if (inner) return inner;
        continue;
      }
      const decision = this.settle(rule.target, flow, rule);
      if (decision) return decision;
    }
    return undefined;
  }

  /** Unwraps groups to the outbound that carries the flow; undefined when the rule must be skipped. */
  private settle(target: string, flow: Flow, rule?: Rule): Decision | undefined {
    if (rule !== undefined && this.disabled.size > 0 && this.disabled.has(rule)) return undefined;
    const top = this.options.outbounds.get(target);
    if (!top) return undefined;
    let outbound = top;
    let chain = top.name;
    let closing = '';
    let groups: OutboundGroup[] | undefined;
    while (isGroup(outbound)) {
      (groups ??= []).push(outbound);
      outbound = outbound.pick(flow);
      chain += `[${outbound.name}`;
      closing += ']';
    }
    if (outbound.chain !== undefined) {
      chain += `[${outbound.chain}`;
      closing += ']';
    }
    if (outbound.type === 'Pass') return undefined;
    if (flow.network === 'udp' && !(top.supportsUdp() && outbound.supportsUdp())) return undefined;
    return { outbound, groups: groups ?? noGroups, chain: chain + closing, rule };
  }

  private direct(flow: Flow): Decision {
    return this.settle('DIRECT', flow)!;
  }
}
