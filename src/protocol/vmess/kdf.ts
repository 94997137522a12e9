import { createHmac } from 'node:crypto';

type Hash = (message: Buffer) => Buffer;

const root = 'VMess AEAD KDF';

/**
 * The VMess AEAD KDF (spec §3): nested HMAC-SHA256 with "VMess AEAD KDF" at the root and
 * each path element as the key of one more HMAC level, the last one outermost.
 * Returns 32 bytes.
 */
export function vmessKdf(key: Uint8Array, ...path: (string | Uint8Array)[]): Buffer {
  let hash: Hash = (message) => createHmac('sha256', root).update(message).digest();
  for (const element of path) {
    const bytes = typeof element === 'string' ? Buffer.from(element, 'latin1') : element;
    if (bytes.length > 64) throw new Error('VMess KDF path elements are at most 64 bytes');
    const inner = Buffer.alloc(64, 0x36);
    const outer = Buffer.alloc(64, 0x5c);
    for (let i = 0; i < bytes.length; i++) {
      inner[i]! ^= bytes[i]!;
      outer[i]! ^= bytes[i]!;
    }
    const previous = hash;
    hash = (message) => previous(Buffer.concat([outer, previous(Buffer.concat([inner, message]))]));
  }
  return hash(Buffer.from(key));
}

/** The first 16 bytes of the KDF: an AES-128 key. */
export function vmessKdf16(key: Uint8Array, ...path: (string | Uint8Array)[]): Buffer {
  return vmessKdf(key, ...path).subarray(0, 16);
}
