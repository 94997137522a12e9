import { decompress } from 'fzstd';
import { bytesToIp } from '../../common/ip.js';

/** What a decoded .mrs file holds (clash-rules.md §7.6). */
export type MrsContent =
  | {
      /** Domain behaviour. */
      behavior: 'domain';
      /** Entry count recorded in the header (the source list's size). */
      count: number;
      /** Stored keys, `+.x` meaning x's subdomains (as mihomo stores them). */
      keys: string[];
    }
  | {
      /** IP-CIDR behaviour. */
      behavior: 'ipcidr';
      /** Entry count recorded in the header. */
      count: number;
      /** Inclusive ranges as IP literals (IPv4 for IPv4-mapped bounds). */
      ranges: [string, string][];
    };

const behaviors = ['domain', 'ipcidr'] as const;

/** Bounds-checked big-endian reader over the decompressed body. */
class Cursor {
  private offset = 0;

  constructor(private readonly data: Uint8Array) {}

  private need(n: number): void {
    if (this.offset + n > this.data.length) throw new Error(`mrs: truncated at byte ${this.offset} (need ${n} more)`);
  }

  byte(): number {
    this.need(1);
    return this.data[this.offset++]!;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** The next 8 bytes as a big-endian int64, after checking they are there. */
  private int64(): bigint {
    this.need(8);
    const value = new DataView(this.data.buffer, this.data.byteOffset + this.offset, 8).getBigInt64(0);
    this.offset += 8;
    return value;
  }

  /** An int64 that must fit a safe count (and the remaining bytes, given the element size). */
  count(elementSize: number): number {
    const value = this.int64();
    if (value < 0n || value * BigInt(elementSize) > BigInt(this.data.length - this.offset)) {
      throw new Error(`mrs: impossible length ${value} at byte ${this.offset - 8}`);
    }
    return Number(value);
  }

  /** The header's entry count: any non-negative int64 that fits a number. */
  headerCount(): number {
    const value = this.int64();
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`mrs: bad entry count ${value}`);
    return Number(value);
  }

  words(): BigUint64Array {
    const n = this.count(8);
    const raw = this.bytes(n * 8);
    const out = new BigUint64Array(n);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) out[i] = view.getBigUint64(i * 8);
    return out;
  }
}

/** Decodes a mihomo .mrs rule-set (zstd frame, `MRS\x01` header, domain or ipcidr body). Throws on bad input. */
export function decodeMrs(file: Uint8Array): MrsContent {
  let data: Uint8Array;
  try {
    data = decompress(file);
  } catch (error) {
    throw new Error(`mrs: not a zstd frame (${(error as Error).message})`);
  }
  const cursor = new Cursor(data);
  const magic = cursor.bytes(4);
  if (magic[0] !== 0x4d || magic[1] !== 0x52 || magic[2] !== 0x53 || magic[3] !== 1) throw new Error('mrs: bad magic (expected MRS version 1)');
  const behavior = behaviors[cursor.byte()];
  if (!behavior) throw new Error('mrs: unknown behaviour byte (only domain and ipcidr are stored)');
  const count = cursor.headerCount();
  cursor.bytes(cursor.count(1));
  if (cursor.byte() !== 1) throw new Error('mrs: unknown body version');
  if (behavior === 'ipcidr') {
    const n = cursor.count(32);
    const ranges: [string, string][] = [];
    for (let i = 0; i < n; i++) ranges.push([mappedToIp(cursor.bytes(16)), mappedToIp(cursor.bytes(16))]);
    return { behavior, count, ranges };
  }
  const leaves = cursor.words();
  const labelBitmap = cursor.words();
  const labels = cursor.bytes(cursor.count(1));
  return { behavior, count, keys: walkLouds(leaves, labelBitmap, labels).map(reverse) };
}

function mappedToIp(bytes: Uint8Array): string {
  const text = bytesToIp(bytes);
  return text.startsWith('::ffff:') && text.includes('.') ? text.slice(7) : text;
}

const reverse = (s: string): string => [...s].reverse().join('');

function bit(words: BigUint64Array, pos: number): boolean {
  const word = words[pos >>> 6];
  return word !== undefined && ((word >> BigInt(pos & 63)) & 1n) === 1n;
}

/**
 * Enumerates every key of a LOUDS trie: at node n the child list starts at bitmap position
 * `select1(n - 1) + 1` (0 for the root); each 0-bit is an edge labelled `labels[pos - n]`
 * leading to node `rank0(pos)`; a 1-bit ends the list. `leaves` bit n marks a stored key.
 */
function walkLouds(leaves: BigUint64Array, bitmap: BigUint64Array, labels: Uint8Array): string[] {
  const totalBits = bitmap.length * 64;
  // Positions of 1-bits (list ends) and the rank of 0-bits up to each position, computed once.
  const ones: number[] = [];
  const rank0 = new Int32Array(totalBits);
  let zeros = 0;
  for (let pos = 0; pos < totalBits; pos++) {
    if (bit(bitmap, pos)) ones.push(pos);
    else zeros++;
    rank0[pos] = zeros;
  }
  const keys: string[] = [];
  const decoder = new TextDecoder();
  const stack: [number, number[]][] = [[0, []]];
  let visited = 0;
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (++visited > totalBits + 1) throw new Error('mrs: trie has a cycle');
    if (bit(leaves, node)) keys.push(decoder.decode(Uint8Array.from(path)));
    let pos = node === 0 ? 0 : ones[node - 1]! + 1;
    if (node !== 0 && ones[node - 1] === undefined) throw new Error('mrs: node outside the bitmap');
    for (; pos < totalBits && !bit(bitmap, pos); pos++) {
      const label = labels[pos - node];
      const child = rank0[pos]!;
      if (label === undefined || child <= node) throw new Error('mrs: corrupt trie');
      stack.push([child, [...path, label]]);
    }
  }
  return keys;
}
