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

/** DOMAIN-REGEX: the regex finds a match in the host (unanchored, case-insensitive, as mihomo). */
export class DomainRegexRule extends BaseRule {
  private readonly regex: RegExp;

  constructor(type: string, payload: string, target: string) {
    let regex: RegExp;
    try {
      regex = new RegExp(payload, 'i');
    } catch (error) {
      throw new Error(`invalid regular expression '${payload}': ${(error as Error).message}`);
    }
    super(type, payload, target);
    this.regex = regex;
  }

  match(flow: Readonly<Flow>): boolean {
    const host = ruleHost(flow);
    return host !== undefined && this.regex.test(host);
  }
}

/** DOMAIN-WILDCARD: the whole host matches a glob where `*` is any run (dots included) and `?` one character. */
export class DomainWildcardRule extends BaseRule {
  private readonly regex: RegExp;

  constructor(type: string, payload: string, target: string) {
    const lower = payload.toLowerCase();
    const source = lower.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    super(type, lower, target);
    this.regex = new RegExp(`^${source}$`);
  }

  match(flow: Readonly<Flow>): boolean {
    const host = ruleHost(flow);
    return host !== undefined && this.regex.test(host);
  }
}
