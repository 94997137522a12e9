import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createHasher } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vmessKdf, vmessKdf16 } from '../../src/protocol/vmess/kdf.js';

/** Anything noble's HMAC takes as its hash: SHA-256, or an HMAC level built from it. */
type NobleHash = Parameters<typeof hmac.create>[0];

/** One more HMAC level over `parent`, keyed by `key`: the spec's §3 construction, spelt out with noble. */
const level = (parent: NobleHash, key: Uint8Array): NobleHash => createHasher(() => hmac.create(parent, key));

/** The KDF through @noble/hashes, level by level: the independent implementation the addon is held to. */
function nobleKdf(key: Uint8Array, path: Uint8Array[]): Buffer {
  let hash = level(sha256, Buffer.from('VMess AEAD KDF'));
  for (const element of path) hash = level(hash, element);
  return Buffer.from(hash.create().update(key).digest());
}

const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

describe('VMess KDF (native/vmess-kdf.c)', () => {
  it('equals nested HMAC-SHA256 built from @noble/hashes for any key and path up to 8 elements of up to 64 bytes', () => {
    fc.assert(
      fc.property(bytes(100), fc.array(bytes(64), { maxLength: 8 }), (key, path) => {
        expect(vmessKdf(key, ...path).toString('hex')).toBe(nobleKdf(key, path).toString('hex'));
      }),
      { numRuns: 300 },
    );
  });

  it('takes path strings as latin1 bytes, and vmessKdf16 is the first 16 bytes', () => {
    const key = Buffer.from('0123456789abcdef');
    const path = ['VMess Header AEAD Key', 'é'];
    const expected = nobleKdf(key, path.map((p) => Buffer.from(p, 'latin1')));
    expect(vmessKdf(key, ...path).equals(expected)).toBe(true);
    expect(vmessKdf16(key, ...path).equals(expected.subarray(0, 16))).toBe(true);
  });

  it('refuses, with a TypeError, a path element over 64 bytes, more than 8 elements or a non-Buffer', () => {
    const key = Buffer.alloc(16);
    expect(() => vmessKdf(key, Buffer.alloc(65))).toThrow(TypeError);
    expect(() => vmessKdf(key, ...Array.from({ length: 9 }, () => 'a'))).toThrow(TypeError);
    expect(() => vmessKdf(key, 42 as unknown as string)).toThrow(TypeError);
    expect(() => vmessKdf('key' as unknown as Buffer)).toThrow(TypeError);
  });
});
