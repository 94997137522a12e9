import type { Flow } from '../../adapter/flow.js';
import type { RuleProvider } from '../provider/provider.js';
import { BaseRule } from './base.js';

/**
 * RULE-SET,<provider>: the provider matches; with `src`, source and destination are swapped.
 * GEOSITE,<category> is the same over the category's domain list.
 */
export class RuleSetRule extends BaseRule {
  constructor(
    payload: string,
    target: string,
    private readonly provider: RuleProvider,
    private readonly noResolve: boolean,
    private readonly swap: boolean,
    type: 'RULE-SET' | 'GEOSITE' = 'RULE-SET',
  ) {
    super(type, payload, target);
  }

  /** The provider's content can change on refresh, so this is asked each time. */
  override get needsIp(): boolean {
    return !this.noResolve && !this.swap && this.provider.needsIp;
  }

  match(flow: Readonly<Flow>): boolean {
    if (!this.swap) return this.provider.match(flow);
    const swapped: Flow = { ...flow, source: flow.destination, destination: flow.source, ip: flow.source.host, domain: undefined };
    return this.provider.match(swapped);
  }
}
