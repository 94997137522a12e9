import { shake128 } from '@noble/hashes/sha3.js';

/**
 * One direction's SHAKE128 stream (spec §7.1): the XOF output of the 16-byte IV, read as
 * consecutive big-endian 16-bit words for length masks and padding lengths.
 */
export class ShakeWords {
  private readonly xof = shake128.create({});
  private block: Uint8Array = new Uint8Array(0);
  private offset = 0;

  constructor(seed: Uint8Array) {
    this.xof.update(seed);
  }

  /** The next 2 bytes of the stream as an unsigned 16-bit number. */
  next(): number {
    if (this.offset + 2 > this.block.length) {
      this.block = this.xof.xof(512);
      this.offset = 0;
    }
    const word = (this.block[this.offset]! << 8) | this.block[this.offset + 1]!;
    this.offset += 2;
    return word;
  }
}
