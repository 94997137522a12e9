import { createCipheriv } from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aeadOpen, aeadOpenPieces, aeadSeal, aeadSealInto, tagLength, type AeadAlgorithm } from '../../src/common/aead.js';

const algorithms: AeadAlgorithm[] = ['aes-128-gcm', 'chacha20-poly1305'];
const keyLength = (algorithm: AeadAlgorithm): number => (algorithm === 'aes-128-gcm' ? 16 : 32);
const bytes = (min: number, max = min): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

/** @noble/ciphers' seal: the independent implementation the addon is held to. */
function nobleSeal(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, plain: Buffer, aad?: Buffer): Buffer {
  const cipher = algorithm === 'aes-128-gcm' ? gcm(key, nonce, aad) : chacha20poly1305(key, nonce, aad);
  return Buffer.from(cipher.encrypt(plain));
}

/** node:crypto's seal, the other reference. */
function nodeSeal(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, plain: Buffer, aad?: Buffer): Buffer {
  const cipher = createCipheriv(algorithm as 'aes-128-gcm', key, nonce, { authTagLength: tagLength });
  if (aad) cipher.setAAD(aad);
  const head = cipher.update(plain);
  cipher.final();
  return Buffer.concat([head, cipher.getAuthTag()]);
}

/** Cuts `data` at the given points (sorted, deduplicated, kept inside), copies each piece. */
function cut(data: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (data.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of [...at, data.length]) {
    pieces.push(Buffer.from(data.subarray(start, point)));
    start = point;
  }
  return pieces;
}

const inputs = fc.record({
  algorithm: fc.constantFrom(...algorithms),
  key: bytes(32),
  nonce: bytes(12),
  plain: bytes(0, 5000),
  aad: fc.option(bytes(0, 64), { nil: undefined }),
});

describe('native AEAD (native/aead.c) against @noble/ciphers and node:crypto', () => {
  it('seals byte for byte as both do, with and without associated data', () => {
    fc.assert(
      fc.property(inputs, ({ algorithm, key, nonce, plain, aad }) => {
        const k = key.subarray(0, keyLength(algorithm));
        const sealed = aeadSeal(algorithm, k, nonce, plain, aad);
        expect(sealed).toEqual(nobleSeal(algorithm, k, nonce, plain, aad));
        expect(sealed).toEqual(nodeSeal(algorithm, k, nonce, plain, aad));
      }),
      { numRuns: 300 },
    );
  });

  it('seals into a buffer at an offset without touching the bytes around it', () => {
    fc.assert(
      fc.property(inputs, fc.nat(100), fc.nat(100), ({ algorithm, key, nonce, plain }, before, after) => {
        const k = key.subarray(0, keyLength(algorithm));
        const out = Buffer.alloc(before + plain.length + tagLength + after, 0xee);
        aeadSealInto(algorithm, k, nonce, plain, out, before);
        expect(out.subarray(before, before + plain.length + tagLength)).toEqual(nobleSeal(algorithm, k, nonce, plain));
        expect(out.subarray(0, before).every((b) => b === 0xee)).toBe(true);
        expect(out.subarray(before + plain.length + tagLength).every((b) => b === 0xee)).toBe(true);
      }),
    );
  });

  it('opens what @noble/ciphers sealed, whole or in any pieces, leaving the input as it was', () => {
    fc.assert(
      fc.property(inputs, fc.array(fc.nat(), { maxLength: 70 }), ({ algorithm, key, nonce, plain, aad }, points) => {
        const k = key.subarray(0, keyLength(algorithm));
        const sealed = nobleSeal(algorithm, k, nonce, plain, aad);
        const untouched = Buffer.from(sealed);
        expect(aeadOpen(algorithm, k, nonce, sealed, aad)).toEqual(plain);
        expect(sealed).toEqual(untouched);
        if (aad) return;
        // More than 64 pieces takes the join-first path; fewer are read where they are.
        const pieces = cut(sealed.subarray(0, plain.length), points);
        expect(aeadOpenPieces(algorithm, k, nonce, pieces, sealed.subarray(plain.length))).toEqual(plain);
        expect(Buffer.concat(pieces)).toEqual(untouched.subarray(0, plain.length));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects any flipped bit of ciphertext, tag, nonce or associated data', () => {
    fc.assert(
      fc.property(inputs, fc.nat(), fc.integer({ min: 0, max: 7 }), fc.constantFrom('sealed', 'nonce', 'aad'), fc.array(fc.nat(), { maxLength: 5 }), ({ algorithm, key, nonce, plain, aad }, at, bit, target, points) => {
        const k = key.subarray(0, keyLength(algorithm));
        const associated = aad ?? Buffer.alloc(0);
        const sealed = nobleSeal(algorithm, k, nonce, plain, associated);
        const flip = target === 'sealed' ? sealed : target === 'nonce' ? nonce : associated;
        fc.pre(flip.length > 0);
        flip[at % flip.length]! ^= 1 << bit;
        expect(aeadOpen(algorithm, k, nonce, sealed, associated)).toBeUndefined();
        if (associated.length === 0) {
          const pieces = cut(sealed.subarray(0, plain.length), points);
          expect(aeadOpenPieces(algorithm, k, nonce, pieces, sealed.subarray(plain.length))).toBeUndefined();
        }
      }),
      { numRuns: 400 },
    );
  });

  it('refuses bad arguments with a TypeError, never a crash or an out-of-bounds write', () => {
    const key = Buffer.alloc(16);
    const nonce = Buffer.alloc(12);
    const plain = Buffer.alloc(10);
    expect(() => aeadSeal('aes-128-gcm', Buffer.alloc(32), nonce, plain)).toThrow(TypeError);
    expect(() => aeadSeal('chacha20-poly1305', key, nonce, plain)).toThrow(TypeError);
    expect(() => aeadSeal('aes-128-gcm', key, Buffer.alloc(8), plain)).toThrow(TypeError);
    expect(() => aeadSealInto('aes-128-gcm', key, nonce, plain, Buffer.alloc(25), 0)).toThrow(TypeError);
    expect(() => aeadSealInto('aes-128-gcm', key, nonce, plain, Buffer.alloc(40), 15)).toThrow(TypeError);
    expect(() => aeadOpenPieces('aes-128-gcm', key, nonce, [plain], Buffer.alloc(15))).toThrow(TypeError);
    expect(() => aeadOpenPieces('aes-128-gcm', key.subarray(1), nonce, [plain], Buffer.alloc(16))).toThrow(TypeError);
    expect(aeadOpen('aes-128-gcm', key, nonce, Buffer.alloc(15))).toBeUndefined();
  });
});
