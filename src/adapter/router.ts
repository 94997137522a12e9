import type { Flow } from './flow.js';
import type { Outbound, OutboundGroup } from './outbound.js';

/** A parsed rule line: one small synchronous matcher. */
export interface Rule {
  /** Rule type as written in Clash configs (`DOMAIN-SUFFIX`). */
  readonly type: string;
  /** The payload (`example.com`); empty for MATCH. */
  readonly payload: string;
  /** Name of the outbound or group a match sends the flow to. */
  readonly target: string;
  /** True when the rule compares the destination IP and may trigger a DNS lookup for domain flows. */
  readonly needsIp: boolean;
  /** True when the flow matches; `flow.ip` is set if a lookup already happened. */
  match(flow: Readonly<Flow>): boolean;
  /** `TYPE,payload` as Clash prints it in logs. */
  toString(): string;
}

/** What the router chose for a flow. */
export interface Decision {
  /** The outbound that carries the flow (groups already unwrapped to their member). */
  outbound: Outbound;
  /** The groups unwrapped on the way, outermost first (told when the dial fails). */
  groups: readonly OutboundGroup[];
  /** The target as logs show it: `PROXY[hk-01]` for group PROXY using member hk-01. */
  chain: string;
  /** The rule that matched, absent when no rule matched (fallback DIRECT). */
  rule?: Rule;
}

/** Chooses an outbound for each flow. */
export interface Router {
  /**
   * Walks the rules; may resolve the destination (and set `flow.ip`) when an IP rule needs
   * it, and then answers with a promise.
   */
  decide(flow: Flow): Decision | Promise<Decision>;
  /** Told each flow's decision once it is routed (rule statistics), if the router keeps any. */
  recordDecision?(decision: Decision): void;
}
