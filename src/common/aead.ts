/**
 * AEAD for VMess and the tunnel's handshake: AES-128-GCM and ChaCha20-Poly1305 on the OpenSSL
 * that node:crypto wraps, called through native/aead.c so a message costs no cipher object and
 * its output is written straight into the caller's buffer (DESIGN §4: per-call overhead is what
 * dominates; node:crypto's update() allocates its output twice and copies it once).
 */
import { loadAddon } from './addon.js';

/** The AEAD ciphers VMess and the tunnel use, by their OpenSSL names. */
export type AeadAlgorithm = 'aes-128-gcm' | 'chacha20-poly1305';

/** Length of every AEAD tag used here. */
export const tagLength = 16;

/** native/aead.c: cipher 0 is aes-128-gcm (16-byte key), 1 is chacha20-poly1305 (32-byte key); 12-byte nonces. */
interface AeadAddon {
  /** Writes ciphertext || tag of `plaintext` into out[offset, offset + length + 16); throws on bad arguments. */
  seal(cipher: number, key: Buffer, nonce: Buffer, plaintext: Buffer, out: Buffer, offset: number, aad?: Buffer): void;
  /** Verifies `tag` and decrypts the ciphertext (one Buffer, or up to 64 pieces) in place; false (all zeroed) when the tag does not verify. */
  open(cipher: number, key: Buffer, nonce: Buffer, ciphertext: Buffer | readonly Buffer[], tag: Buffer, aad?: Buffer): boolean;
}

/** Most pieces the addon takes in one open() call. */
const maxPieces = 64;

let addon: AeadAddon | undefined;
const native = (): AeadAddon => (addon ??= loadAddon<AeadAddon>('aead'));
const cipherIndex = (algorithm: AeadAlgorithm): number => (algorithm === 'aes-128-gcm' ? 0 : 1);

/** Writes ciphertext || tag of `plaintext` into `out` at `offset` (it needs plaintext.length + 16 bytes there). */
export function aeadSealInto(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, plaintext: Buffer, out: Buffer, offset: number, aad?: Buffer): void {
  native().seal(cipherIndex(algorithm), key, nonce, plaintext, out, offset, aad);
}

/**
 * Verifies ciphertext || tag and decrypts it in place: the plaintext is then
 * sealed[0, length - 16). False when the tag does not verify (the body is then zeroed).
 */
export function aeadOpenInPlace(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, sealed: Buffer, aad?: Buffer): boolean {
  const body = sealed.length - tagLength;
  return body >= 0 && native().open(cipherIndex(algorithm), key, nonce, sealed.subarray(0, body), sealed.subarray(body), aad);
}

/**
 * Verifies `tag` and decrypts a ciphertext that arrived in pieces, each in place (no join);
 * false when the tag does not verify (every piece is then zeroed).
 */
export function aeadOpenPiecesInPlace(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, ciphertext: readonly Buffer[], tag: Buffer): boolean {
  if (ciphertext.length > maxPieces) return aeadOpenInPlace(algorithm, key, nonce, Buffer.concat([...ciphertext, tag]));
  return native().open(cipherIndex(algorithm), key, nonce, ciphertext, tag);
}

/** Encrypts `plaintext` and returns ciphertext || tag in a new Buffer. */
export function aeadSeal(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const sealed = Buffer.allocUnsafe(plaintext.length + tagLength);
  aeadSealInto(algorithm, key, nonce, plaintext, sealed, 0, aad);
  return sealed;
}

/** Verifies and decrypts ciphertext || tag into a new Buffer (`sealed` is left as it was); undefined when the tag does not verify. */
export function aeadOpen(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, sealed: Buffer, aad?: Buffer): Buffer | undefined {
  if (sealed.length < tagLength) return undefined;
  const copy = Buffer.from(sealed);
  return aeadOpenInPlace(algorithm, key, nonce, copy, aad) ? copy.subarray(0, copy.length - tagLength) : undefined;
}
