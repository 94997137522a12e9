/** The reading half of VMess body framing (spec §7): wire bytes back to plaintext, every chunk verified. */
import { createDecipheriv, type Decipher } from 'node:crypto';
import { aeadOpen, aeadOpenPieces, tagLength } from '../../common/aead.js';
import { ByteQueue } from '../../common/byte-queue.js';
import { Direction, type BodySpec } from './body.js';
import { fnv1a32 } from './fnv.js';
import { Security, VmessError } from './request-header.js';

/** Turns one direction's wire bytes back into plaintext, verifying every chunk. */
export class BodyReader {
  private readonly d: Direction;
  private readonly cfb: Decipher | undefined;
  private readonly queue = new ByteQueue();
  /** Size and padding of the chunk whose length field has been read, while its body is awaited. */
  private current: { size: number; padding: number } | undefined;
  /** True once the end-of-stream chunk arrived; later bytes are ignored. */
  ended = false;

  constructor(spec: BodySpec) {
    this.d = new Direction(spec);
    if (spec.security === Security.legacyCfb) this.cfb = (spec.cfb as Decipher | undefined) ?? createDecipheriv('aes-128-cfb', spec.key, spec.iv);
  }

  /** True when no partial chunk is buffered: a TCP close here is a clean end (spec §7.5). */
  atBoundary(): boolean {
    return this.queue.length === 0 && this.current === undefined;
  }

  /**
   * Feeds wire bytes; returns the plaintext they complete, verified (for UDP, one Buffer per
   * datagram). Throws VmessError; nothing of a chunk is returned before it authenticates.
   */
  read(data: Buffer): Buffer[] {
    if (this.ended) return [];
    const bytes = this.cfb ? this.cfb.update(data) : data;
    if (this.d.framing === 'raw') return bytes.length > 0 ? [bytes] : [];
    this.queue.push(bytes);
    const out: Buffer[] = [];
    for (;;) {
      const pieces = this.d.framing === 'plain-stream' ? this.plainChunk() : this.chunk();
      if (pieces === undefined) break;
      if (this.d.spec.packets) {
        if (pieces.length > 0) out.push(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
      } else out.push(...pieces);
      if (this.ended) {
        this.queue.clear();
        break;
      }
    }
    return out;
  }

  private plainChunk(): Buffer[] | undefined {
    const d = this.d;
    if (!this.current) {
      if (this.queue.length < 2) return undefined;
      const size = this.queue.takeContiguous(2).readUInt16BE(0) ^ (d.shake ? d.shake.next() : 0);
      if (size === 0) {
        this.ended = true;
        return [];
      }
      this.current = { size, padding: 0 };
    }
    if (this.queue.length < this.current.size) return undefined;
    const data = this.queue.take(this.current.size);
    this.current = undefined;
    return data;
  }

  private chunk(): Buffer[] | undefined {
    const d = this.d;
    if (!this.current) {
      if (this.queue.length < d.lengthFieldSize) return undefined;
      const { padding, mask } = d.drawPaddingAndMask();
      const field = this.queue.takeContiguous(d.lengthFieldSize);
      let size: number;
      if (d.lengthAead) {
        const plain = aeadOpen(d.aead!, d.lengthAead.key, d.nextLengthNonce(), field);
        if (!plain) throw new VmessError('chunk length does not authenticate');
        size = plain.readUInt16BE(0) + tagLength;
      } else size = field.readUInt16BE(0) ^ mask;
      if (size === d.overhead + padding) {
        this.ended = true;
        return [];
      }
      if (size < d.overhead + padding) throw new VmessError('chunk shorter than its overhead');
      this.current = { size, padding };
    }
    const { size, padding } = this.current;
    if (this.queue.length < size) return undefined;
    this.current = undefined;
    if (d.aead) return this.open(size - padding, padding);
    const body = this.queue.take(size - padding);
    this.queue.take(padding);
    if (this.cfb) {
      const whole = Buffer.concat(body);
      const data = whole.subarray(4);
      if (fnv1a32(data) !== whole.readUInt32BE(0)) throw new VmessError('chunk checksum mismatch');
      return [data];
    }
    return body;
  }

  /**
   * Verifies and decrypts the queued chunk into a new Buffer, reading its pieces where they
   * arrived; nothing is returned unless the tag verifies. (Decrypting in place would keep each
   * whole 64 KiB socket read alive for as long as the plaintext is queued for writing, which
   * pushed those reads into the old generation and cost a mark-compact every ~100 ms.)
   */
  private open(sealedLength: number, padding: number): Buffer[] {
    const d = this.d;
    const ciphertext = this.queue.take(sealedLength - tagLength);
    const tag = this.queue.takeContiguous(tagLength);
    this.queue.take(padding);
    const plain = aeadOpenPieces(d.aead!, d.aeadKey!, d.nextNonce(), ciphertext, tag);
    if (!plain) throw new VmessError('chunk does not authenticate');
    return [plain];
  }
}
