import { BlockList, isIP } from 'node:net';
import { normalizeHost } from '../../common/address.js';

/** A single parsed IP prefix with a fast membership test. */
export class Cidr {
  private readonly list = new BlockList();

  private constructor(
    /** 4 or 6. */
    readonly family: 4 | 6,
    /** The prefix as written back in canonical form (`10.0.0.0/8`). */
    readonly text: string,
  ) {}

  /**
   * Parses `a.b.c.d/n` or `v6/n`; a bare address means a host prefix (/32, /128).
   * Host bits are allowed and masked off, as Clash does.
   */
  static parse(text: string): Cidr {
    const [rawIp, rawBits, extra] = text.trim().split('/');
    const ip = normalizeHost(rawIp ?? '');
    const family = isIP(ip);
    if (extra !== undefined || family === 0) throw new Error(`invalid IP prefix '${text}'`);
    const max = family === 4 ? 32 : 128;
    const bits = rawBits === undefined ? max : /^\d{1,3}$/.test(rawBits) ? Number(rawBits) : NaN;
    if (!(bits >= 0 && bits <= max)) throw new Error(`invalid prefix length in '${text}'`);
    const cidr = new Cidr(family as 4 | 6, `${ip}/${bits}`);
    cidr.list.addSubnet(ip, bits, family === 4 ? 'ipv4' : 'ipv6');
    return cidr;
  }

  /** True when `ip` (already normalized: IPv4-mapped IPv6 turned into IPv4) is inside. */
  contains(ip: string): boolean {
    const family = isIP(ip);
    if (family !== this.family) return false;
    return this.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}
