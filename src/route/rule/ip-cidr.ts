import type { Flow } from '../../adapter/flow.js';
import { IpRangeSet, parsePrefix, type IpWords } from '../match/ip-set.js';
import { BaseRule, destinationIp, sourceIp } from './base.js';

/** Options shared by the rules that compare an IP. */
export interface IpRuleOptions {
  /** Compare the client's address instead of the destination's (`src` param, SRC-* types). */
  source: boolean;
  /** Never trigger a DNS lookup for this rule (`no-resolve`). */
  noResolve: boolean;
}

/** Base of rules on one IP of the flow: the destination (may trigger resolution) or the source. */
export abstract class IpRule extends BaseRule {
  /** True for SRC-* types and the `src` param: the client's address is compared. */
  readonly source: boolean;
  private readonly resolves: boolean;

  constructor(type: string, payload: string, target: string, options: IpRuleOptions) {
    super(type, payload, target);
    this.source = options.source;
    this.resolves = !options.source && !options.noResolve;
  }

  override get needsIp(): boolean {
    return this.resolves;
  }

  match(flow: Readonly<Flow>): boolean {
    const ip = this.source ? sourceIp(flow) : destinationIp(flow);
    return ip !== undefined && this.matchIp(ip, this.source ? flow.source.host : flow.ip!);
  }

  /** True when the chosen address (as words, and as the literal) matches. */
  protected abstract matchIp(ip: IpWords, text: string): boolean;
}

/**
 * IP-CIDR / IP-CIDR6 (aliases, either family) and SRC-IP-CIDR. The prefix length is required,
 * as in mihomo; host bits are masked off.
 */
export class IpCidrRule extends IpRule {
  private readonly set: IpRangeSet;

  constructor(type: string, payload: string, target: string, options: IpRuleOptions) {
    const set = IpRangeSet.of([parsePrefix(payload, true)]);
    super(type, payload, target, options);
    this.set = set;
  }

  protected matchIp(ip: IpWords): boolean {
    return this.set.has(ip);
  }
}

/** IP-SUFFIX / SRC-IP-SUFFIX: the last `bits` bits of the address equal those of the payload's address. */
export class IpSuffixRule extends IpRule {
  private readonly want: IpWords;
  private readonly bits: number;

  constructor(type: string, payload: string, target: string, options: IpRuleOptions) {
    const [ip, bitsText] = payload.split('/');
    const range = parsePrefix(`${ip}/${ip?.includes(':') ? 128 : 32}`);
    const max = range.family === 4 ? 32 : 128;
    const bits = /^\d{1,3}$/.test(bitsText ?? '') ? Number(bitsText) : NaN;
    if (!(bits >= 0 && bits <= max)) throw new Error(`invalid IP-SUFFIX '${payload}' (expected ip/bits)`);
    super(type, payload, target, options);
    this.want = range.start;
    this.bits = bits;
  }

  protected matchIp(ip: IpWords): boolean {
    const want = this.want;
    if (ip.family === 4 && want.family === 4) return lowBitsEqual(ip.v4, want.v4, this.bits);
    if (ip.family !== 6 || want.family !== 6) return false;
    for (let word = 3, left = this.bits; word >= 0 && left > 0; word--, left -= 32) {
      if (!lowBitsEqual(ip.v6[word]!, want.v6[word]!, Math.min(32, left))) return false;
    }
    return true;
  }
}

function lowBitsEqual(a: number, b: number, bits: number): boolean {
  if (bits === 0) return true;
  const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  return ((a ^ b) & mask) >>> 0 === 0;
}
