/**
 * Virtual IP leases of a gateway (spec §8.2): static addresses from the peer config, otherwise
 * the next free address of each pool, kept per client key across handshakes and (with a lease
 * file) across gateway restarts; a lease unused for an hour can be reclaimed when the pool runs out.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { maxStateBytes, readRegularFileSync } from '../../../common/bounded-file.js';
import { bytesToIp, ipToBytes } from '../../../common/ip.js';

/** A prefix parsed for address arithmetic. */
export interface Pool {
  /** Address family. */
  family: 4 | 6;
  /** Network address as an integer. */
  base: bigint;
  /** Prefix length. */
  length: number;
}

/** The addresses a peer holds. */
export interface Lease {
  /** IPv4 virtual address, if the gateway has an IPv4 pool. */
  v4?: string;
  /** IPv6 virtual address, if the gateway has an IPv6 pool. */
  v6?: string;
}

interface Entry extends Lease {
  /** Wall-clock ms of the last handshake that used the lease. */
  seen: number;
}

/** Leases are reclaimable after this long without a session. */
export const leaseIdleMs = 3_600_000;

/** Parses `a.b.c.d/n` or `v6/n` into a pool; throws with the text on anything else. */
export function parsePool(cidr: string): Pool {
  const [address, bits] = cidr.split('/') as [string, string | undefined];
  const length = Number(bits);
  let bytes: Buffer;
  try {
    bytes = ipToBytes(address);
  } catch {
    throw new Error(`${JSON.stringify(cidr)} is not a CIDR prefix`);
  }
  const family = bytes.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(length) || length < 1 || length > max - 2) throw new Error(`${JSON.stringify(cidr)} needs a prefix length between 1 and ${max - 2}`);
  const value = BigInt(`0x${bytes.toString('hex')}`);
  const hostBits = BigInt(max - length);
  return { family, base: (value >> hostBits) << hostBits, length };
}

/** The n-th address of a pool as text (0 = the network address). */
export function poolAddress(pool: Pool, n: bigint): string {
  const size = pool.family === 4 ? 4 : 16;
  const hex = (pool.base + n).toString(16).padStart(size * 2, '0');
  return bytesToIp(Buffer.from(hex, 'hex'));
}

/** True when `address` is inside the pool. */
export function inPool(pool: Pool, address: string): boolean {
  return offsetIn(pool, address) !== undefined;
}

function offsetIn(pool: Pool, address: string): bigint | undefined {
  let bytes: Buffer;
  try {
    bytes = ipToBytes(address);
  } catch {
    return undefined;
  }
  if ((bytes.length === 4 ? 4 : 6) !== pool.family) return undefined;
  const offset = BigInt(`0x${bytes.toString('hex')}`) - pool.base;
  const size = 1n << BigInt((pool.family === 4 ? 32 : 128) - pool.length);
  return offset >= 0n && offset < size ? offset : undefined;
}

/** The lease table of one gateway. */
export class LeaseTable {
  private readonly entries = new Map<string, Entry>();
  private readonly taken = new Set<string>();

  constructor(
    private readonly pools: { v4?: Pool; v6?: Pool },
    /** Addresses fixed in the config, by client key: never leased to anyone else. */
    private readonly fixed: ReadonlyMap<string, Lease>,
    /** Where leases persist (JSON), or undefined to keep them in memory only. */
    private readonly file?: string,
    private readonly now: () => number = Date.now,
  ) {
    for (const lease of fixed.values()) this.reserve(lease);
    if (file) this.load(file);
  }

  /** The lease of the client with this key (base64), allocating one on first contact. */
  leaseFor(key: string): Lease {
    const fixed = this.fixed.get(key);
    if (fixed) return fixed;
    const entry = this.entries.get(key) ?? { seen: 0 };
    this.entries.set(key, entry);
    if (this.pools.v4 && !entry.v4) entry.v4 = this.allocate(this.pools.v4);
    if (this.pools.v6 && !entry.v6) entry.v6 = this.allocate(this.pools.v6);
    entry.seen = this.now();
    this.save();
    return { v4: entry.v4, v6: entry.v6 };
  }

  private allocate(pool: Pool): string {
    const hostBits = (pool.family === 4 ? 32 : 128) - pool.length;
    const last = (1n << BigInt(hostBits)) - (pool.family === 4 ? 2n : 1n);
    const scanLimit = last < 65_536n ? last : 65_536n;
    for (let n = 2n; n <= scanLimit; n++) {
      const address = poolAddress(pool, n);
      if (!this.taken.has(address)) {
        this.taken.add(address);
        return address;
      }
    }
    for (const entry of this.entries.values()) {
      const address = pool.family === 4 ? entry.v4 : entry.v6;
      if (address && this.now() - entry.seen > leaseIdleMs) {
        if (pool.family === 4) delete entry.v4;
        else delete entry.v6;
        return address;
      }
    }
    throw new Error(`address pool ${poolAddress(pool, 0n)}/${pool.length} is exhausted`);
  }

  private reserve(lease: Lease): void {
    if (lease.v4) this.taken.add(lease.v4);
    if (lease.v6) this.taken.add(lease.v6);
  }

  private load(file: string): void {
    let data: Record<string, Entry>;
    try {
      data = JSON.parse(readRegularFileSync(file, maxStateBytes).toString('utf8')) as Record<string, Entry>;
    } catch {
      return;
    }
    for (const [key, entry] of Object.entries(data)) {
      if (this.fixed.has(key) || typeof entry !== 'object' || entry === null) continue;
      const kept: Entry = { seen: Number(entry.seen) || 0 };
      if (this.pools.v4 && typeof entry.v4 === 'string' && inPool(this.pools.v4, entry.v4) && !this.taken.has(entry.v4)) kept.v4 = entry.v4;
      if (this.pools.v6 && typeof entry.v6 === 'string' && inPool(this.pools.v6, entry.v6) && !this.taken.has(entry.v6)) kept.v6 = entry.v6;
      this.reserve(kept);
      this.entries.set(key, kept);
    }
  }

  private save(): void {
    if (!this.file) return;
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, JSON.stringify(Object.fromEntries(this.entries), null, 2) + '\n');
    renameSync(temporary, this.file);
  }
}
