import { isIP } from 'node:net';
import { bytesToIp, ipToBytes } from '../../common/ip.js';
import { normalizeHost } from '../../common/address.js';

/** An IP address as 32-bit words: one word for IPv4, four (most significant first) for IPv6. */
export type IpWords = { readonly family: 4; readonly v4: number } | { readonly family: 6; readonly v6: Uint32Array };

/**
 * Parses an IP literal (IPv4-mapped IPv6 becomes IPv4, as Clash compares it) into words;
 * undefined for anything that is not an IP literal.
 */
export function ipWords(ip: string): IpWords | undefined {
  const v4 = parseIpv4(ip);
  if (v4 !== undefined) return { family: 4, v4 };
  const host = normalizeHost(ip);
  const family = isIP(host);
  if (family === 4) return { family: 4, v4: parseIpv4(host)! };
  if (family !== 6) return undefined;
  const bytes = ipToBytes(host);
  const v6 = new Uint32Array(4);
  for (let i = 0; i < 4; i++) v6[i] = bytes.readUInt32BE(i * 4);
  return { family: 6, v6 };
}

/** Dotted-quad IPv4 to an unsigned 32-bit number; undefined when `text` is not exactly that. */
function parseIpv4(text: string): number | undefined {
  let value = 0;
  let octet = -1;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (octet < 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      octet = -1;
      dots++;
    } else if (c >= 48 && c <= 57) {
      octet = octet < 0 ? c - 48 : octet * 10 + c - 48;
      if (octet > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || octet < 0) return undefined;
  return value * 256 + octet;
}

/** One parsed prefix: its first and last address. */
export interface IpRange {
  /** Address family. */
  readonly family: 4 | 6;
  /** First address (words). */
  readonly start: IpWords;
  /** Last address, inclusive (words). */
  readonly end: IpWords;
}

/**
 * Parses `a.b.c.d/n` or `v6/n` (host bits are masked off, as Clash does). A bare address is
 * a host prefix only when `allowBare` is set (mihomo requires the length).
 */
export function parsePrefix(text: string, allowBare = false): IpRange {
  const slash = text.indexOf('/');
  const ipText = slash < 0 ? text : text.slice(0, slash);
  const bitsText = slash < 0 ? undefined : text.slice(slash + 1);
  const words = ipWords(ipText.trim());
  if (!words || text.trim() !== text) throw new Error(`invalid IP prefix '${text}'`);
  if (bitsText === undefined && !allowBare) throw new Error(`IP prefix '${text}' has no length (write ${text}/${words.family === 4 ? 32 : 128})`);
  const max = words.family === 4 ? 32 : 128;
  // An IPv4-mapped IPv6 prefix (::ffff:1.2.3.0/120) means the IPv4 prefix of length bits - 96.
  const mapped = words.family === 4 && isIP(normalizeHost(ipText)) === 4 && ipText.includes(':');
  let bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (mapped) bits -= 96;
  if (!(bits >= 0 && bits <= max)) throw new Error(`invalid prefix length in '${text}'`);
  if (words.family === 4) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const start = (words.v4 & mask) >>> 0;
    return { family: 4, start: { family: 4, v4: start }, end: { family: 4, v4: (start | ~mask) >>> 0 } };
  }
  const start = new Uint32Array(4);
  const end = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const wordBits = Math.min(32, Math.max(0, bits - i * 32));
    const mask = wordBits === 0 ? 0 : (0xffffffff << (32 - wordBits)) >>> 0;
    start[i] = (words.v6[i]! & mask) >>> 0;
    end[i] = (start[i]! | ~mask) >>> 0;
  }
  return { family: 6, start: { family: 6, v6: start }, end: { family: 6, v6: end } };
}

function compare6(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let i = 0; i < 4; i++) {
    const d = a[ai + i]! - b[bi + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * A set of IP ranges, sorted and merged at build time, looked up by binary search:
 * IPv4 in two Uint32Arrays, IPv6 as four words per bound.
 */
export class IpRangeSet {
  private constructor(
    private readonly v4Start: Uint32Array,
    private readonly v4End: Uint32Array,
    /** Per range: start words 0..3 then end words 4..7. */
    private readonly v6: Uint32Array,
  ) {}

  /** Builds the set; overlapping and adjacent ranges are merged. */
  static of(ranges: Iterable<IpRange>): IpRangeSet {
    const v4: [number, number][] = [];
    const v6: Uint32Array[] = [];
    for (const r of ranges) {
      if (r.start.family === 4 && r.end.family === 4) v4.push([r.start.v4, r.end.v4]);
      else if (r.start.family === 6 && r.end.family === 6) {
        const pair = new Uint32Array(8);
        pair.set(r.start.v6, 0);
        pair.set(r.end.v6, 4);
        v6.push(pair);
      }
    }
    v4.sort((a, b) => a[0] - b[0]);
    const merged4: [number, number][] = [];
    for (const [s, e] of v4) {
      const last = merged4[merged4.length - 1];
      if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
      else merged4.push([s, e]);
    }
    v6.sort((a, b) => compare6(a, 0, b, 0));
    const merged6: Uint32Array[] = [];
    for (const pair of v6) {
      const last = merged6[merged6.length - 1];
      if (last && compare6(pair, 0, last, 4) <= 0) {
        if (compare6(pair, 4, last, 4) > 0) last.set(pair.subarray(4), 4);
      } else merged6.push(pair.slice());
    }
    const flat6 = new Uint32Array(merged6.length * 8);
    merged6.forEach((pair, i) => flat6.set(pair, i * 8));
    return new IpRangeSet(
      Uint32Array.from(merged4, (r) => r[0]),
      Uint32Array.from(merged4, (r) => r[1]),
      flat6,
    );
  }

  /** Number of merged ranges (IPv4 + IPv6). */
  get size(): number {
    return this.v4Start.length + this.v6.length / 8;
  }

  /** The ranges as the fewest CIDR prefixes that cover exactly them (IPv4 first). */
  toPrefixes(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.v4Start.length; i++) {
      for (const [start, length] of rangePrefixes(BigInt(this.v4Start[i]!), BigInt(this.v4End[i]!), 32)) {
        out.push(`${bytesToIp(bigToBytes(start, 4))}/${length}`);
      }
    }
    for (let i = 0; i < this.v6.length; i += 8) {
      const start = wordsToBig(this.v6.subarray(i, i + 4));
      const end = wordsToBig(this.v6.subarray(i + 4, i + 8));
      for (const [first, length] of rangePrefixes(start, end, 128)) out.push(`${bytesToIp(bigToBytes(first, 16))}/${length}`);
    }
    return out;
  }

  /** True when the address is in one of the ranges. */
  has(ip: IpWords): boolean {
    return ip.family === 4 ? this.has4(ip.v4) : this.has6(ip.v6);
  }

  /** True when the IP literal is in one of the ranges (false for anything else). */
  hasText(ip: string): boolean {
    const words = ipWords(ip);
    return words !== undefined && this.has(words);
  }

  private has4(ip: number): boolean {
    const starts = this.v4Start;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= ip) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && ip <= this.v4End[hi]!;
  }

  private has6(ip: Uint32Array): boolean {
    const all = this.v6;
    let lo = 0;
    let hi = all.length / 8 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compare6(all, mid * 8, ip, 0) <= 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && compare6(ip, 0, all, hi * 8 + 4) <= 0;
  }
}

/** Splits [start, end] into aligned blocks: [first address, prefix length] pairs. */
function rangePrefixes(start: bigint, end: bigint, bits: number): [bigint, number][] {
  const out: [bigint, number][] = [];
  while (start <= end) {
    let host = 0n;
    while (host < BigInt(bits) && ((start >> host) & 1n) === 0n && start + (1n << (host + 1n)) - 1n <= end) host++;
    out.push([start, bits - Number(host)]);
    start += 1n << host;
  }
  return out;
}

function wordsToBig(words: Uint32Array): bigint {
  return words.reduce((acc, word) => (acc << 32n) | BigInt(word), 0n);
}

function bigToBytes(value: bigint, size: number): Buffer {
  return Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex');
}
