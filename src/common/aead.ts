/**
 * AEAD for VMess and the tunnel's handshake: AES-128-GCM and ChaCha20-Poly1305 on the OpenSSL
 * that node:crypto wraps, called through native/aead.c so a message costs no cipher object and
 * its output is written straight into the caller's buffer (DESIGN §4: per-call overhead is what
 * dominates; node:crypto's update() allocates and copies its output). Without the addon the same
 * calls run on node:crypto (aead-fallback.ts).
 */
import { addonOr } from './addon.js';
import * as fallback from './aead-fallback.js';

/** The AEAD ciphers VMess and the tunnel use, by their OpenSSL names. */
export type AeadAlgorithm = 'aes-128-gcm' | 'chacha20-poly1305';

/** Length of every AEAD tag used here. */
export const tagLength = 16;

/** native/aead.c: cipher 0 is aes-128-gcm (16-byte key), 1 is chacha20-poly1305 (32-byte key); 12-byte nonces. */
interface AeadAddon {
  /** Writes ciphertext || tag of `plaintext` into out[offset, offset + length + 16); throws on bad arguments. */
  seal(cipher: number, key: Buffer, nonce: Buffer, plaintext: Buffer, out: Buffer, offset: number, aad?: Buffer): void;
  /**
   * Verifies `tag` and decrypts the ciphertext (one Buffer, or up to 64 pieces) into `out`;
   * false (`out` zeroed) when the tag does not verify. Throws on bad arguments.
   */
  open(cipher: number, key: Buffer, nonce: Buffer, ciphertext: Buffer | readonly Buffer[], tag: Buffer, aad: Buffer | undefined, out: Buffer): boolean;
}

/** Most pieces the addon takes in one open() call. */
const maxPieces = 64;

let addon: AeadAddon | undefined;
const native = (): AeadAddon => (addon ??= addonOr<AeadAddon>('aead', fallback));
const cipherIndex = (algorithm: AeadAlgorithm): number => (algorithm === 'aes-128-gcm' ? 0 : 1);

/** Writes ciphertext || tag of `plaintext` into `out` at `offset` (it needs plaintext.length + 16 bytes there). */
export function aeadSealInto(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, plaintext: Buffer, out: Buffer, offset: number, aad?: Buffer): void {
  native().seal(cipherIndex(algorithm), key, nonce, plaintext, out, offset, aad);
}

/**
 * Verifies `tag` and decrypts a ciphertext that arrived in pieces into one new Buffer (the pieces
 * are left as they were, so the buffers they belong to can be freed young); undefined when the
 * tag does not verify.
 */
export function aeadOpenPieces(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, ciphertext: readonly Buffer[], tag: Buffer): Buffer | undefined {
  if (ciphertext.length > maxPieces) return aeadOpen(algorithm, key, nonce, Buffer.concat([...ciphertext, tag]));
  let length = 0;
  for (const piece of ciphertext) length += piece.length;
  const plain = Buffer.allocUnsafe(length);
  return native().open(cipherIndex(algorithm), key, nonce, ciphertext, tag, undefined, plain) ? plain : undefined;
}

/** Encrypts `plaintext` and returns ciphertext || tag in a new Buffer. */
export function aeadSeal(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const sealed = Buffer.allocUnsafe(plaintext.length + tagLength);
  aeadSealInto(algorithm, key, nonce, plaintext, sealed, 0, aad);
  return sealed;
}

/** Verifies and decrypts ciphertext || tag into a new Buffer (`sealed` is left as it was); undefined when the tag does not verify. */
export function aeadOpen(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, sealed: Buffer, aad?: Buffer): Buffer | undefined {
  const body = sealed.length - tagLength;
  if (body < 0) return undefined;
  const plain = Buffer.allocUnsafe(body);
  return native().open(cipherIndex(algorithm), key, nonce, sealed.subarray(0, body), sealed.subarray(body), aad, plain) ? plain : undefined;
}
