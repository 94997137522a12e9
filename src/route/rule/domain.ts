import type { Flow } from '../../adapter/flow.js';
import { BaseRule, ruleHost } from './base.js';

/** DOMAIN: the host equals the payload. */
export class DomainRule extends BaseRule {
  match(flow: Readonly<Flow>): boolean {
    return ruleHost(flow) === this.payload;
  }
}

/** DOMAIN-SUFFIX: the host is the payload or one of its subdomains. */
export class DomainSuffixRule extends BaseRule {
  private readonly dotted = '.' + this.payload;

  match(flow: Readonly<Flow>): boolean {
    const host = ruleHost(flow);
    return host !== undefined && (host === this.payload || host.endsWith(this.dotted));
  }
}

/** DOMAIN-KEYWORD: the payload occurs anywhere in the host. */
export class DomainKeywordRule extends BaseRule {
  match(flow: Readonly<Flow>): boolean {
    return ruleHost(flow)?.includes(this.payload) ?? false;
  }
}
