/**
 * VMess body framing (spec §7): one writer (here) and one reader (body-reader.ts) per direction, for every security
 * (none, aes-128-cfb, aes-128-gcm, chacha20-poly1305) and option (S, M, P, A), for stream
 * (TCP) and packet (UDP) commands. Pure state machines over bytes; node:crypto does the
 * CFB cipher and the SHAKE masks, native/aead.c (via common/aead.ts) the AEAD chunks.
 */
import { createCipheriv, hash, type Cipher, type Decipher } from 'node:crypto';
import { aeadSealInto, tagLength, type AeadAlgorithm } from '../../common/aead.js';
import { randomSlice } from '../../common/random-pool.js';
import { fnv1a32 } from './fnv.js';
import { vmessKdf16 } from './kdf.js';
import { Option, Security, VmessError, type SecurityValue } from './request-header.js';
import { ShakeWords } from './shake.js';

/** Everything that decides how one direction's body is framed and protected. */
export interface BodySpec {
  /** Body security from the request header. */
  security: SecurityValue;
  /** Option bits from the request header. */
  options: number;
  /** This direction's body key. */
  key: Buffer;
  /** This direction's body IV (nonce template and SHAKE seed). */
  iv: Buffer;
  /** The request key and IV: option A's length cipher uses them in both directions. */
  request: { key: Buffer; iv: Buffer };
  /** UDP (command 2): one datagram per chunk. */
  packets: boolean;
  /** For aes-128-cfb in the response direction after a legacy header: the header's continuing stream. */
  cfb?: Cipher | Decipher;
}

/** Largest chunk a writer sends for UDP, so v2ray 4.34 receives each datagram whole (spec §7.8). */
export const maxPacketChunk = 2048;
/**
 * Plaintext per chunk on streams. Readers accept any 16-bit size; 32 KiB splits a 64 KiB
 * socket read into two equal chunks instead of one full chunk and a sliver.
 */
const streamPayload = 32 * 1024;
const maxPadding = 63;

type Framing = 'raw' | 'plain-stream' | 'chunks';

/** The parts both the writer and the reader of a direction derive from the spec. */
export class Direction {
  readonly framing: Framing;
  readonly aead: AeadAlgorithm | undefined;
  readonly aeadKey: Buffer | undefined;
  readonly overhead: number;
  readonly endOfStream: boolean;
  readonly shake: ShakeWords | undefined;
  readonly padding: boolean;
  readonly lengthAead: { key: Buffer; nonce: Buffer } | undefined;
  readonly lengthFieldSize: number;
  readonly nonce: Buffer;
  counter = 0;
  lengthCounter = 0;

  constructor(readonly spec: BodySpec) {
    const { security, options } = spec;
    const stream = (options & Option.chunkStream) !== 0;
    const masking = (options & Option.chunkMasking) !== 0;
    if ((options & Option.globalPadding) !== 0 && !masking) throw new VmessError('option P without M is invalid');
    if (security === Security.aes128Gcm || security === Security.chacha20Poly1305) {
      this.framing = 'chunks';
      this.aead = security === Security.aes128Gcm ? 'aes-128-gcm' : 'chacha20-poly1305';
      this.aeadKey = security === Security.aes128Gcm ? spec.key : chachaKey(spec.key);
      this.overhead = tagLength;
    } else if (security === Security.legacyCfb) {
      this.framing = stream ? 'chunks' : 'raw';
      this.overhead = 4;
    } else {
      this.framing = !stream ? 'raw' : spec.packets ? 'chunks' : 'plain-stream';
      this.overhead = 0;
    }
    this.endOfStream = stream;
    this.shake = masking ? new ShakeWords(spec.iv) : undefined;
    this.padding = (options & Option.globalPadding) !== 0 && this.framing === 'chunks';
    if ((options & Option.authenticatedLength) !== 0 && this.aead) {
      const base = vmessKdf16(spec.request.key, 'auth_len');
      this.lengthAead = {
        key: this.aead === 'aes-128-gcm' ? base : chachaKey(base),
        nonce: Buffer.from(spec.request.iv.subarray(0, 12)),
      };
    }
    this.lengthFieldSize = this.lengthAead ? 2 + tagLength : 2;
    this.nonce = Buffer.from(spec.iv.subarray(0, 12));
  }

  nextNonce(): Buffer {
    this.nonce.writeUInt16BE(this.counter, 0);
    this.counter = (this.counter + 1) & 0xffff;
    return this.nonce;
  }

  nextLengthNonce(): Buffer {
    const nonce = this.lengthAead!.nonce;
    nonce.writeUInt16BE(this.lengthCounter, 0);
    this.lengthCounter = (this.lengthCounter + 1) & 0xffff;
    return nonce;
  }

  /** Draws the padding length, then the mask, in the order the spec fixes. */
  drawPaddingAndMask(): { padding: number; mask: number } {
    const padding = this.padding ? this.shake!.next() % 64 : 0;
    const mask = this.shake && !this.lengthAead ? this.shake.next() : 0;
    return { padding, mask };
  }
}

/** chacha20-poly1305 key from a 16-byte body key: MD5(k) || MD5(MD5(k)) (spec §7.7). */
export function chachaKey(key: Buffer): Buffer {
  const first = hash('md5', key, 'buffer');
  return Buffer.concat([first, hash('md5', first, 'buffer')]);
}

/** The 2-byte plaintext of an option-A length field, reused (it is sealed at once). */
const lengthPlain = Buffer.alloc(2);

/** Turns one direction's plaintext into wire bytes. */
export class BodyWriter {
  private readonly d: Direction;
  private readonly cfb: Cipher | undefined;
  /** Largest plaintext one chunk carries. */
  readonly maxPayload: number;

  constructor(spec: BodySpec) {
    this.d = new Direction(spec);
    if (spec.security === Security.legacyCfb) this.cfb = (spec.cfb as Cipher | undefined) ?? createCipheriv('aes-128-cfb', spec.key, spec.iv);
    this.maxPayload = spec.packets ? maxPacketChunk - this.d.lengthFieldSize - this.d.overhead - maxPadding : streamPayload;
  }

  /**
   * Wire bytes for `data`, as pieces to write in order: split into chunks for streams; one
   * chunk for a datagram, which must not exceed `maxPayload` (the caller drops it otherwise).
   * AEAD chunks are sealed straight into one new Buffer; other framings reference `data`.
   * Empty data gives nothing.
   */
  write(data: Buffer): Buffer[] {
    if (data.length === 0) return [];
    if (this.d.framing === 'raw') return [this.cfb ? this.cfb.update(data) : data];
    if (this.d.spec.packets && data.length > this.maxPayload) {
      throw new VmessError(`datagram of ${data.length} bytes is too large for one chunk`);
    }
    if (this.d.aead) return [this.sealChunks(data)];
    if (data.length <= this.maxPayload) return this.chunk(data);
    const parts: Buffer[] = [];
    for (let offset = 0; offset < data.length; offset += this.maxPayload) {
      parts.push(...this.chunk(data.subarray(offset, offset + this.maxPayload)));
    }
    return parts;
  }

  /** False when the framing has no end-of-stream chunk (security none or cfb without S): only a TCP close ends it. */
  get signalsEnd(): boolean {
    return this.d.endOfStream && this.d.framing !== 'raw';
  }

  /** The end-of-stream chunk when the options call for one, else nothing. */
  end(): Buffer[] {
    if (!this.signalsEnd) return [];
    const empty = Buffer.alloc(0);
    return this.d.aead ? [this.sealChunks(empty)] : this.chunk(empty);
  }

  /** AEAD chunks (spec §7.3) for `data` (empty: the EOS chunk), laid out one after another in one Buffer. */
  private sealChunks(data: Buffer): Buffer {
    const d = this.d;
    const algorithm = d.aead!;
    const count = Math.max(1, Math.ceil(data.length / this.maxPayload));
    const out = Buffer.allocUnsafe(data.length + count * (d.lengthFieldSize + tagLength + maxPadding));
    let at = 0;
    for (let index = 0; index < count; index++) {
      const payload = data.subarray(index * this.maxPayload, (index + 1) * this.maxPayload);
      const { padding, mask } = d.drawPaddingAndMask();
      const size = payload.length + tagLength + padding;
      if (d.lengthAead) {
        lengthPlain.writeUInt16BE(size - tagLength, 0);
        aeadSealInto(algorithm, d.lengthAead.key, d.nextLengthNonce(), lengthPlain, out, at);
      } else out.writeUInt16BE(size ^ mask, at);
      at += d.lengthFieldSize;
      aeadSealInto(algorithm, d.aeadKey!, d.nextNonce(), payload, out, at);
      at += payload.length + tagLength;
      if (padding > 0) at += randomSlice(padding).copy(out, at);
    }
    return out.subarray(0, at);
  }

  /** One chunk of the non-AEAD framings: plain stream, or length (masked) + FNV-1a + data under aes-128-cfb, or plain chunks for UDP. */
  private chunk(data: Buffer): Buffer[] {
    const d = this.d;
    if (d.framing === 'plain-stream') {
      const length = Buffer.allocUnsafe(2);
      length.writeUInt16BE(data.length ^ (d.shake ? d.shake.next() : 0), 0);
      return data.length > 0 ? [length, data] : [length];
    }
    const { padding, mask } = d.drawPaddingAndMask();
    const body: Buffer[] = [];
    if (this.cfb) {
      const checksum = Buffer.allocUnsafe(4);
      checksum.writeUInt32BE(fnv1a32(data), 0);
      body.push(checksum, data);
    } else body.push(data);
    const lengthField = Buffer.allocUnsafe(2);
    lengthField.writeUInt16BE((data.length + d.overhead + padding) ^ mask);
    const parts = [lengthField, ...body];
    if (padding > 0) parts.push(randomSlice(padding));
    return this.cfb ? parts.map((part) => this.cfb!.update(part)) : parts;
  }
}
