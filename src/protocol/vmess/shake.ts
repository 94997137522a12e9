import { createHash } from 'node:crypto';
import { shake128 } from '@noble/hashes/sha3.js';

/** Bytes of the stream produced natively at first (doubled while needed, up to `nativeLimit`), and per incremental read after that. */
const blockBytes = 512;
/** Past this many bytes (≥ 2,000 chunks, tens of MiB of body) the stream continues incrementally. */
const nativeLimit = 8192;

/**
 * One direction's SHAKE128 stream (spec §7.1): the XOF output of the 16-byte IV, read as
 * consecutive big-endian 16-bit words for length masks and padding lengths.
 *
 * node:crypto's SHAKE128 gives a fixed output length per call, so the start of the stream is
 * computed natively (one call for most connections, a few for long ones: far cheaper than a
 * JavaScript Keccak per connection); a connection that outlives `nativeLimit` bytes of stream
 * continues on @noble/hashes' incremental XOF, skipped once past what was already read.
 */
export class ShakeWords {
  private readonly seed: Buffer;
  private block: Uint8Array = new Uint8Array(0);
  private offset = 0;
  /** Bytes of the stream before `block`. */
  private consumed = 0;
  private xof: ReturnType<typeof shake128.create> | undefined;

  constructor(seed: Uint8Array) {
    this.seed = Buffer.from(seed);
  }

  /** The next 2 bytes of the stream as an unsigned 16-bit number. */
  next(): number {
    if (this.offset + 2 > this.block.length) this.refill();
    const word = (this.block[this.offset]! << 8) | this.block[this.offset + 1]!;
    this.offset += 2;
    return word;
  }

  private refill(): void {
    const read = this.consumed + this.offset;
    const wanted = Math.max(blockBytes, read * 2);
    if (wanted <= nativeLimit) {
      this.block = createHash('shake128', { outputLength: wanted }).update(this.seed).digest().subarray(read);
    } else {
      if (!this.xof) {
        this.xof = shake128.create({}).update(this.seed);
        this.xof.xof(read);
      }
      this.block = this.xof.xof(blockBytes);
    }
    this.consumed = read;
    this.offset = 0;
  }
}
