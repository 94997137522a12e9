import { RE2JS } from 're2js';
import type { Flow } from '../../adapter/flow.js';
import { BaseRule, excerpt, ruleHost } from './base.js';

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

/**
 * Longest DOMAIN-REGEX pattern. re2js compiles at 1.5–5 µs a pattern byte and a huge pattern
 * matches slowly, so patterns are kept to a size any real rule fits in.
 */
const maxRegexBytes = 8 << 10;

/**
 * Most bytes of DOMAIN-REGEX lines one rule list or one provider load may hold (about 0.6 s of
 * compiling at worst), so that a hostile rule provider cannot stall the proxy with regexes.
 */
export const maxRegexBytesPerList = 128 << 10;

/** Counts the bytes of lines that hold DOMAIN-REGEX; `take` is false once a list's budget is spent. */
export class RegexBudget {
  private used = 0;

  /** True when `line` holds no regex, or its bytes still fit in the budget (they are then counted). */
  take(line: string): boolean {
    if (!/DOMAIN-REGEX/i.test(line)) return true;
    this.used += line.length;
    return this.used <= maxRegexBytesPerList;
  }
}

/**
 * DOMAIN-REGEX: the regex finds a match in the host (unanchored, case-insensitive, as mihomo).
 * mihomo compiles these with Go's regexp, so the syntax is RE2's, and so is the engine here
 * (re2js): matching takes time linear in the host, whatever the pattern; a backtracking
 * engine let `^(a+)+$` freeze the proxy on a 40-letter domain.
 */
export class DomainRegexRule extends BaseRule {
  private readonly regex: RE2JS;

  constructor(type: string, payload: string, target: string) {
    if (payload.length > maxRegexBytes) throw new Error(`regular expression of ${payload.length} characters: at most ${maxRegexBytes} (put long domain lists in a rule provider)`);
    let regex: RE2JS;
    try {
      // Hosts reach rules in lower case, so a pattern without an upper-case letter matches
      // them the same with or without case folding, and re2js is ~3x faster without it.
      regex = RE2JS.compile(payload, /[A-Z]/.test(payload) ? RE2JS.CASE_INSENSITIVE : 0);
    } catch (error) {
      throw new Error(`invalid regular expression ${excerpt(payload)} (Go/RE2 syntax): ${(error as Error).message}`);
    }
    super(type, payload, target);
    this.regex = regex;
  }

  match(flow: Readonly<Flow>): boolean {
    const host = ruleHost(flow);
    return host !== undefined && this.regex.test(host);
  }
}

/**
 * DOMAIN-WILDCARD: the whole host matches a glob where `*` is any run (dots included) and `?`
 * one character. Matched without a regex: greedy with one backtrack point, so a pattern of
 * many stars costs at most host × pattern steps, never exponential time.
 */
export class DomainWildcardRule extends BaseRule {
  private readonly glob: string;
  private readonly literals: number;

  constructor(type: string, payload: string, target: string) {
    const lower = payload.toLowerCase();
    super(type, lower, target);
    this.glob = lower.replace(/\*+/g, '*');
    this.literals = this.glob.replace(/\*/g, '').length;
  }

  match(flow: Readonly<Flow>): boolean {
    const host = ruleHost(flow);
    return host !== undefined && host.length >= this.literals && globMatch(this.glob, host);
  }
}

/** True when `text` matches `glob` whole (`*` any run, `?` one character). */
function globMatch(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = glob[g];
    if (c === '*') {
      star = g++;
      resume = t;
    } else if (c !== undefined && (c === '?' || c === text[t])) {
      g++;
      t++;
    } else if (star >= 0) {
      g = star + 1;
      t = ++resume;
    } else return false;
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}
