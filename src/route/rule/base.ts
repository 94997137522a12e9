import type { Flow } from '../../adapter/flow.js';
import type { Rule } from '../../adapter/router.js';
import { ipWords, type IpWords } from '../match/ip-set.js';

/** Common fields of every rule; subclasses implement `match`. */
export abstract class BaseRule implements Rule {
  /** Rules that compare the destination IP override this. */
  get needsIp(): boolean {
    return false;
  }

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

/**
 * The host domain rules compare: the sniffed domain, else the requested one; undefined for IP
 * flows. (The dispatcher sets `flow.ip` to the destination itself for an IP literal, so a
 * string comparison tells them apart without parsing; flows are built that way everywhere.)
 */
export function ruleHost(flow: Readonly<Flow>): string | undefined {
  if (flow.domain !== undefined) return flow.domain;
  const host = flow.destination.host;
  return flow.ip === host ? undefined : host;
}

/** Remembers the words of the last IP literal parsed, so consecutive IP rules parse a flow's address once. */
class LastIp {
  private text: string | undefined;
  private words: IpWords | undefined;

  get(ip: string | undefined): IpWords | undefined {
    if (ip === undefined) return undefined;
    if (ip !== this.text) {
      this.text = ip;
      this.words = ipWords(ip);
    }
    return this.words;
  }
}

const lastDestination = new LastIp();
const lastSource = new LastIp();

/** The flow's destination IP as words (the literal, or what the router resolved); undefined before resolution. */
export function destinationIp(flow: Readonly<Flow>): IpWords | undefined {
  return lastDestination.get(flow.ip);
}

/** The client's IP as words. */
export function sourceIp(flow: Readonly<Flow>): IpWords | undefined {
  return lastSource.get(flow.source.host);
}

/** Rule text quoted for a message, cut to `max` characters (a hostile line can be a megabyte). */
export function excerpt(text: string, max = 60): string {
  return `'${text.length > max ? `${text.slice(0, max - 3)}...` : text}'`;
}
