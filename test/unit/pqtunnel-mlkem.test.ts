import { createHash, randomBytes } from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mlkemDecapsulate, mlkemEncapsulate, mlkemKeygen } from '../../src/protocol/pqtunnel/crypto/mlkem.js';
import { byteDecode, byteEncode, compress, decompress, inverseNtt, ntt, q, sampleNtt } from '../../src/protocol/pqtunnel/crypto/mlkem-poly.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const poly = fc.array(fc.integer({ min: 0, max: q - 1 }), { minLength: 256, maxLength: 256 }).map((values) => Int32Array.from(values));

describe('ML-KEM-768 on node:crypto hashes', () => {
  it('reproduces the C2SP CCTV accumulated vectors: 10,000 key pairs, encapsulations and (valid and random) decapsulations', () => {
    // The RNG is one SHAKE128 stream of the empty string; every output goes into a second SHAKE128.
    const perTest = 32 + 32 + 32 + 1088;
    const rng = createHash('shake128', { outputLength: 10_000 * perTest }).update(Buffer.alloc(0)).digest();
    expect(rng.subarray(0, 16).toString('hex')).toBe('7f9c2ba4e88f827d616045507605853e');
    const accumulator = createHash('shake128', { outputLength: 32 });
    for (let i = 0; i < 10_000; i++) {
      const draw = rng.subarray(i * perTest, (i + 1) * perTest);
      const { publicKey, secretKey } = mlkemKeygen(draw.subarray(0, 64));
      const { cipherText, sharedSecret } = mlkemEncapsulate(publicKey, draw.subarray(64, 96))!;
      expect(mlkemDecapsulate(cipherText, secretKey)).toEqual(sharedSecret);
      accumulator.update(publicKey).update(secretKey).update(cipherText).update(sharedSecret);
      accumulator.update(mlkemDecapsulate(draw.subarray(96), secretKey));
    }
    expect(accumulator.digest('hex')).toBe('f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1');
  }, 60_000);

  it('reproduces the CCTV "unlucky" vector, whose matrix needs more than 575 bytes of SHAKE128 (more than one squeeze here)', () => {
    const seed = hex('82c4a361586b9715c2375a45fb85c32d04be7fe6e26acd820ec5d4080093afe18476013560151d986dc7834dcb57c75f845f8d7ee71558d0955f3f4feb723cf2');
    const { publicKey, secretKey } = mlkemKeygen(seed);
    expect(publicKey.subarray(0, 16).toString('hex')).toBe('ad568015b87690ebbe1fb438ee8a22b9');
    const { cipherText, sharedSecret } = mlkemEncapsulate(publicKey, hex('e48f74ad416e99631003ded1478aec62a02c245d88ed7f2fae92aedf13ca03b3'))!;
    expect(cipherText.subarray(0, 16).toString('hex')).toBe('696ef1699d5ac2aa9a012a64c60c6c21');
    expect(sharedSecret.toString('hex')).toBe('4f7cc64c040fc4e335a539691f4638caf8b1bf5da6455754afe699e41813801b');
    expect(mlkemDecapsulate(cipherText, secretKey)).toEqual(sharedSecret);
  });

  it('agrees byte for byte with @noble/post-quantum on random seeds, messages and ciphertexts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 1088, maxLength: 1088 }), (seed, message, junk) => {
        const ours = mlkemKeygen(seed);
        const theirs = ml_kem768.keygen(seed);
        expect(ours.publicKey).toEqual(Buffer.from(theirs.publicKey));
        expect(ours.secretKey).toEqual(Buffer.from(theirs.secretKey));
        const sealed = mlkemEncapsulate(ours.publicKey, message)!;
        const reference = ml_kem768.encapsulate(theirs.publicKey, message);
        expect(sealed.cipherText).toEqual(Buffer.from(reference.cipherText));
        expect(sealed.sharedSecret).toEqual(Buffer.from(reference.sharedSecret));
        expect(mlkemDecapsulate(junk, ours.secretKey)).toEqual(Buffer.from(ml_kem768.decapsulate(junk, theirs.secretKey)));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects implicitly: any flipped ciphertext bit yields J(z ‖ c), not the secret', () => {
    const { publicKey, secretKey } = mlkemKeygen(randomBytes(64));
    const { cipherText, sharedSecret } = mlkemEncapsulate(publicKey, randomBytes(32))!;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1088 * 8 - 1 }), (bit) => {
        const tampered = Buffer.from(cipherText);
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        const expected = createHash('shake256', { outputLength: 32 }).update(secretKey.subarray(2368)).update(tampered).digest();
        expect(mlkemDecapsulate(tampered, secretKey)).toEqual(expected);
        expect(mlkemDecapsulate(tampered, secretKey)).not.toEqual(sharedSecret);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses an encapsulation key with a coefficient of q or more (FIPS 203 modulus check) and wrong sizes', () => {
    const { publicKey } = mlkemKeygen(randomBytes(64));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 767 }), fc.integer({ min: q, max: 4095 }), (index, value) => {
        const coefficients = byteDecode(publicKey, (index >> 8) * 384, 12);
        coefficients[index & 255] = value;
        const bad = Buffer.from(publicKey);
        byteEncode(coefficients, 12, bad, (index >> 8) * 384);
        expect(mlkemEncapsulate(bad, randomBytes(32))).toBeUndefined();
        expect(() => ml_kem768.encapsulate(bad, randomBytes(32))).toThrow();
      }),
      { numRuns: 100 },
    );
    expect(mlkemEncapsulate(publicKey.subarray(1), randomBytes(32))).toBeUndefined();
    expect(mlkemEncapsulate(publicKey, randomBytes(31))).toBeUndefined();
  });

  it('checks the decapsulation key: sizes and the stored H(ek)', () => {
    const { publicKey, secretKey } = mlkemKeygen(randomBytes(64));
    const { cipherText } = mlkemEncapsulate(publicKey, randomBytes(32))!;
    expect(() => mlkemDecapsulate(cipherText.subarray(1), secretKey)).toThrow(/1088 bytes/);
    expect(() => mlkemDecapsulate(cipherText, secretKey.subarray(1))).toThrow(/2400 bytes/);
    const corrupt = Buffer.from(secretKey);
    corrupt[1200]! ^= 1;
    expect(() => mlkemDecapsulate(cipherText, corrupt)).toThrow(/hash check/);
    expect(() => mlkemKeygen(randomBytes(32))).toThrow(/64 bytes/);
  });
});

describe('ML-KEM polynomial arithmetic', () => {
  it('inverts the NTT', () => {
    fc.assert(
      fc.property(poly, (f) => {
        const g = f.slice();
        ntt(g);
        inverseNtt(g);
        expect(g).toEqual(f);
      }),
    );
  });

  it('round-trips ByteEncode_d and ByteDecode_d, and Compress_d loses at most ⌈q / 2^(d+1)⌋', () => {
    fc.assert(
      fc.property(poly, fc.constantFrom(1, 4, 10, 11), (f, d) => {
        const g = f.slice();
        compress(g, d);
        const bytes = Buffer.alloc(32 * d);
        byteEncode(g, d, bytes, 0);
        const back = byteDecode(bytes, 0, d);
        expect(back).toEqual(g);
        decompress(back, d);
        const bound = Math.round(q / 2 ** (d + 1));
        for (let j = 0; j < 256; j++) {
          const error = Math.abs(back[j]! - f[j]!);
          expect(Math.min(error, q - error)).toBeLessThanOrEqual(bound);
        }
      }),
    );
  });

  it('reports a short XOF stream instead of returning a partial polynomial', () => {
    const out = new Int32Array(256);
    expect(sampleNtt(Buffer.alloc(381, 0xff), out)).toBe(false);
    expect(sampleNtt(Buffer.alloc(384, 0), out)).toBe(true);
  });
});
