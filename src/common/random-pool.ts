import { randomBytes } from 'node:crypto';

/** Bytes the CSPRNG fills per draw. */
const poolBytes = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * `n` (at most 4096) fresh CSPRNG bytes, cut from a pool the CSPRNG fills 4 KiB at a time:
 * each randomBytes call costs about 15 µs whatever its size, which per connection or per
 * padded chunk was more than the bytes. A used pool is never written again, so a slice stays
 * valid (and secret) for as long as its holder keeps it.
 */
export function randomSlice(n: number): Buffer {
  if (n > poolBytes) throw new RangeError(`randomSlice: at most ${poolBytes} bytes`);
  if (offset + n > pool.length) {
    pool = randomBytes(poolBytes);
    offset = 0;
  }
  offset += n;
  return pool.subarray(offset - n, offset);
}
