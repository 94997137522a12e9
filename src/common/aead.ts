import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';

/** The AEAD ciphers VMess and the tunnel use, by their OpenSSL names. */
export type AeadAlgorithm = Extract<CipherGCMTypes, 'aes-128-gcm'> | 'chacha20-poly1305';

/** Length of every AEAD tag used here. */
export const tagLength = 16;

/** Encrypts `plaintext` and returns ciphertext || tag (node:crypto). */
export function aeadSeal(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const cipher = createCipheriv(algorithm as 'aes-128-gcm', key, nonce, { authTagLength: tagLength });
  if (aad) cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([head, cipher.getAuthTag()], plaintext.length + tagLength);
}

/** Verifies and decrypts ciphertext || tag; undefined when the tag does not verify. */
export function aeadOpen(algorithm: AeadAlgorithm, key: Buffer, nonce: Buffer, sealed: Buffer, aad?: Buffer): Buffer | undefined {
  if (sealed.length < tagLength) return undefined;
  const decipher = createDecipheriv(algorithm as 'aes-128-gcm', key, nonce, { authTagLength: tagLength });
  decipher.setAuthTag(sealed.subarray(sealed.length - tagLength));
  if (aad) decipher.setAAD(aad);
  const plain = decipher.update(sealed.subarray(0, sealed.length - tagLength));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plain;
}
