import { randomSlice } from '../../common/random-pool.js';
import { crc32 } from 'node:zlib';
import { ecbDecryptor, ecbEncryptor } from './identity.js';

/** Seconds an AuthID's timestamp may differ from the server's clock (inclusive). */
export const authIdWindowSeconds = 120;

/**
 * AuthID (spec §5.1): AES-128-ECB(authIdKey, time(8) || random(4) || crc32(12 bytes)(4)).
 */
export function createAuthId(authIdKey: Buffer, nowSeconds: number, random: Buffer = randomSlice(4)): Buffer {
  const block = Buffer.alloc(16);
  block.writeBigInt64BE(BigInt(nowSeconds), 0);
  random.copy(block, 8, 0, 4);
  block.writeUInt32BE(crc32(block.subarray(0, 12)), 12);
  return ecbEncryptor(authIdKey).update(block);
}

/** Decrypts 16 bytes with a user's AuthID key; undefined when the checksum shows it is not theirs. */
export function openAuthId(authIdKey: Buffer, authId: Buffer): { time: number } | undefined {
  const block = ecbDecryptor(authIdKey).update(authId);
  if (crc32(block.subarray(0, 12)) !== block.readUInt32BE(12)) return undefined;
  return { time: Number(block.readBigInt64BE(0)) };
}

/**
 * Remembers recent AuthIDs (or any byte strings) for at least `windowMs` and at most twice
 * that: two generations, the older dropped on each rotation, as v2fly and Xray do.
 */
export class ReplayFilter {
  private current = new Set<string>();
  private previous = new Set<string>();
  private rotatedAt: number;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  /** Records `key`; false when it was already seen within the window (a replay). */
  check(key: Buffer): boolean {
    const time = this.now();
    if (time - this.rotatedAt >= this.windowMs) {
      this.previous = time - this.rotatedAt >= 2 * this.windowMs ? new Set() : this.current;
      this.current = new Set();
      this.rotatedAt = time;
    }
    const text = key.toString('latin1');
    if (this.current.has(text) || this.previous.has(text)) return false;
    this.current.add(text);
    return true;
  }
}
