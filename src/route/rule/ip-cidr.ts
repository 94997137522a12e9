import type { Flow } from '../../adapter/flow.js';
import { normalizeHost } from '../../common/address.js';
import { BaseRule } from './base.js';
import { Cidr } from './cidr.js';

/**
 * IP-CIDR / IP-CIDR6 (aliases) on the destination IP, and SRC-IP-CIDR (or the `src` param)
 * on the client's IP. The destination form resolves domains unless `no-resolve` is given.
 */
export class IpCidrRule extends BaseRule {
  override readonly needsIp: boolean;
  private readonly cidr: Cidr;

  constructor(type: string, payload: string, target: string, private readonly source: boolean, noResolve: boolean) {
    const cidr = Cidr.parse(payload);
    super(type, payload, target);
    this.cidr = cidr;
    this.needsIp = !source && !noResolve;
  }

  match(flow: Readonly<Flow>): boolean {
    const ip = this.source ? normalizeHost(flow.source.host) : flow.ip;
    return ip !== undefined && this.cidr.contains(ip);
  }
}
