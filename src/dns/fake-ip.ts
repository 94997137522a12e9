/**
 * The fake-ip pool (spec dns.md §7): names get addresses from `fake-ip-range` in a ring, the
 * same name keeps its address, and the oldest allocation is reused when the ring wraps.
 * Reserved: the network address, the gateway (+1, the TUN's), +2, +3 and the last address.
 */
import { bytesToIp, ipToBytes } from '../common/ip.js';

/** What `fakeip.json` holds. */
export interface FakeIpSnapshot {
  /** The range the pairs were allocated from. */
  range: string;
  /** The last allocated offset. */
  offset: number;
  /** True once the ring wrapped. */
  cycled: boolean;
  /** name → address pairs. */
  pairs: [string, string][];
}

/** A ring of fake addresses for an IPv4 prefix. */
export class FakeIpPool {
  /** First usable offset from the network address. */
  private readonly first = 4;
  /** Offset of the last address (reserved, like the broadcast address). */
  private readonly last: number;
  private readonly network: number;
  private offset: number;
  private cycled = false;
  private readonly byName = new Map<string, number>();
  private readonly byOffset = new Map<number, string>();

  constructor(readonly range: string) {
    const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(range);
    const bits = Number(match?.[2]);
    if (!match || bits > 29 || bits < 8) throw new Error(`fake-ip-range '${range}': expected an IPv4 prefix from /8 to /29 (a /29 leaves 3 addresses)`);
    let base: number;
    try {
      base = ipToBytes(match[1]!).readUInt32BE(0);
    } catch {
      throw new Error(`fake-ip-range '${range}': expected an IPv4 prefix`);
    }
    const size = 2 ** (32 - bits);
    this.network = base - (base % size);
    this.last = size - 1;
    this.offset = this.first - 1;
  }

  /** Usable addresses. */
  get capacity(): number {
    return this.last - this.first;
  }

  /** True when `name` (lower-cased) has an address now. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The fake address of `name` (lower-cased): the one it has, or the next in the ring. */
  lookup(rawName: string): string {
    const name = rawName.toLowerCase().replace(/\.$/, '');
    const known = this.byName.get(name);
    if (known !== undefined) return this.address(known);
    this.offset++;
    if (this.offset >= this.last) {
      this.offset = this.first;
      this.cycled = true;
    }
    const previous = this.byOffset.get(this.offset);
    if (previous !== undefined) this.byName.delete(previous);
    this.byName.set(name, this.offset);
    this.byOffset.set(this.offset, name);
    return this.address(this.offset);
  }

  /** The name a fake address stands for; undefined when it is not allocated. */
  reverse(ip: string): string | undefined {
    const offset = this.offsetOf(ip);
    return offset === undefined ? undefined : this.byOffset.get(offset);
  }

  /** True for addresses of the range that only the pool hands out (not the gateway or the last address). */
  owns(ip: string): boolean {
    const offset = this.offsetOf(ip);
    return offset !== undefined && offset !== 1 && offset !== this.last;
  }

  /** Forgets every pair and starts the ring again. */
  flush(): void {
    this.byName.clear();
    this.byOffset.clear();
    this.offset = this.first - 1;
    this.cycled = false;
  }

  /** The pool's state, for `profile.store-fake-ip`. */
  snapshot(): FakeIpSnapshot {
    return { range: this.range, offset: this.offset, cycled: this.cycled, pairs: [...this.byName].map(([name, offset]) => [name, this.address(offset)]) };
  }

  /** Takes a saved state back; ignored when it is of another range or does not fit this one. */
  restore(saved: FakeIpSnapshot): boolean {
    if (saved.range !== this.range || !Number.isInteger(saved.offset) || saved.offset < this.first - 1 || saved.offset >= this.last) return false;
    this.flush();
    for (const [name, ip] of saved.pairs) {
      const offset = this.offsetOf(ip);
      if (typeof name !== 'string' || offset === undefined || offset < this.first || offset >= this.last) continue;
      this.byName.set(name, offset);
      this.byOffset.set(offset, name);
    }
    this.offset = saved.offset;
    this.cycled = saved.cycled === true;
    return true;
  }

  private address(offset: number): string {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(this.network + offset);
    return bytesToIp(bytes);
  }

  private offsetOf(ip: string): number | undefined {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return undefined;
    const value = ipToBytes(ip).readUInt32BE(0) - this.network;
    return value >= 0 && value <= this.last ? value : undefined;
  }
}
