import type { Flow } from '../../adapter/flow.js';
import type { Rule } from '../../adapter/router.js';
import { ipFamily } from '../../common/address.js';

/** Common fields of every rule; subclasses implement `match`. */
export abstract class BaseRule implements Rule {
  readonly needsIp: boolean = false;

  constructor(
    readonly type: string,
    readonly payload: string,
    readonly target: string,
  ) {}

  abstract match(flow: Readonly<Flow>): boolean;

  toString(): string {
    return this.payload === '' ? this.type : `${this.type},${this.payload}`;
  }
}

/** The host domain rules compare: the sniffed domain, else the requested one; undefined for IP flows. */
export function ruleHost(flow: Readonly<Flow>): string | undefined {
  if (flow.domain !== undefined) return flow.domain;
  return ipFamily(flow.destination.host) === 0 ? flow.destination.host : undefined;
}
