/**
 * PQT v1 primitives (spec §2): SHA-256, HMAC-SHA256, HKDF-SHA256 chains, X25519 from raw
 * keys, ChaCha20-Poly1305 with the 4-zero-byte || LE64 nonce, TAI64N. node:crypto throughout.
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { aeadOpen, aeadSeal } from '../../../common/aead.js';

/** Noise protocol name hashed into the initial chaining key. */
export const construction = Buffer.from('PQT1_Noise_IKpsk2hfs_25519+MLKEM768_ChaChaPoly_SHA256', 'latin1');
/** Identifier hashed into the initial transcript. */
export const identifier = Buffer.from('pqt v1 hybrid udp tunnel', 'latin1');
/** Label of the mac1 key. */
export const labelMac1 = Buffer.from('mac1----', 'latin1');
/** Label of the cookie encryption key. */
export const labelCookie = Buffer.from('cookie--', 'latin1');

/** SHA-256 of the concatenated parts. */
export function hash(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
}

/** HMAC-SHA256. */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** First 16 bytes of HMAC-SHA256 (mac1, mac2, cookies). */
export function mac(key: Uint8Array, data: Uint8Array): Buffer {
  return hmac(key, data).subarray(0, 16);
}

/** Constant-time equality of two 16-byte MACs. */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const counterBytes = [Buffer.of(1), Buffer.of(2), Buffer.of(3)];

/**
 * KDFn: HKDF-SHA256 (RFC 5869) with salt = chaining key, empty info; n 32-byte outputs.
 * Written out with HMAC: hkdfSync costs several times more per call (it builds key objects),
 * and a handshake makes a dozen of these.
 */
export function kdf(n: 1 | 2 | 3, chainingKey: Uint8Array, input: Uint8Array): Buffer[] {
  const pseudoRandomKey = hmac(chainingKey, input);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(i === 0 ? hmac(pseudoRandomKey, counterBytes[0]!) : hmac(pseudoRandomKey, out[i - 1]!, counterBytes[i]!));
  return out;
}

/** The 12-byte AEAD nonce for message number `counter`: 4 zero bytes || u64 LE. */
export function nonce(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(counter >>> 0, 4);
  n.writeUInt32LE(Math.floor(counter / 2 ** 32), 8);
  return n;
}

/** ChaCha20-Poly1305 seal with the spec's nonce layout. */
export function seal(key: Buffer, counter: number, plaintext: Buffer, ad: Buffer): Buffer {
  return aeadSeal('chacha20-poly1305', key, nonce(counter), plaintext, ad);
}

/** ChaCha20-Poly1305 open; undefined when the tag does not verify. */
export function open(key: Buffer, counter: number, sealed: Buffer, ad: Buffer): Buffer | undefined {
  return aeadOpen('chacha20-poly1305', key, nonce(counter), sealed, ad);
}

/** An X25519 key pair with its raw public key. */
export interface X25519Pair {
  /** Private key for diffieHellman. */
  privateKey: KeyObject;
  /** Raw 32-byte public key. */
  publicKey: Buffer;
}

/** X25519 key pair from a raw 32-byte private key (through JWK, the cheap import in Node 20). */
export function x25519FromPrivate(raw: Uint8Array): X25519Pair {
  if (raw.length !== 32) throw new Error('an X25519 private key is 32 bytes');
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(raw).toString('base64url'), x: '' },
    format: 'jwk',
  });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return { privateKey, publicKey: Buffer.from(jwk.x!, 'base64url') };
}

/** 32 random bytes clamped the way RFC 7748 §5 decodes a scalar (as `wg genkey` prints keys). */
export function x25519RandomPrivate(): Buffer {
  const raw = randomBytes(32);
  raw[0]! &= 248;
  raw[31]! &= 127;
  raw[31]! |= 64;
  return raw;
}

/**
 * A fresh X25519 key pair, imported from random bytes. Not generateKeyPairSync: in Node 20,
 * exporting the public key of a generated pair can deadlock the process when a garbage
 * collection during the export finalises the key-generation job (seen within 40,000 calls).
 */
export function x25519Generate(): X25519Pair {
  return x25519FromPrivate(x25519RandomPrivate());
}

/** X25519 against a raw public key; undefined for a low-order point or malformed key. */
export function dh(privateKey: KeyObject, publicKey: Uint8Array): Buffer | undefined {
  try {
    const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    return diffieHellman({ privateKey, publicKey: peer });
  } catch {
    return undefined;
  }
}

/** TAI64N of `unixMs` (spec §2): 2^62 + seconds, then nanoseconds rounded down to a multiple of 2^24. */
export function tai64n(unixMs: number): Buffer {
  const out = Buffer.alloc(12);
  const seconds = Math.floor(unixMs / 1000);
  out.writeBigUInt64BE(2n ** 62n + BigInt(seconds), 0);
  const nanos = Math.floor(((unixMs - seconds * 1000) * 1e6) / 2 ** 24) * 2 ** 24;
  out.writeUInt32BE(nanos, 8);
  return out;
}
