import { createHash, type Hash } from 'node:crypto';

/** A hash level of the KDF, fed a message in parts (saves concatenations). */
type Level = (parts: readonly Uint8Array[]) => Buffer;

const blockSize = 64;

function padded(key: Uint8Array, fill: number): Buffer {
  if (key.length > blockSize) throw new Error('VMess KDF path elements are at most 64 bytes');
  const block = Buffer.alloc(blockSize, fill);
  for (let i = 0; i < key.length; i++) block[i]! ^= key[i]!;
  return block;
}

// Level 0 is HMAC-SHA256 keyed with "VMess AEAD KDF". Its inner and outer SHA-256 states after
// the key block are computed once and copied per use, which costs far less than createHmac.
const rootKey = Buffer.from('VMess AEAD KDF', 'latin1');
const rootInner: Hash = createHash('sha256').update(padded(rootKey, 0x36));
const rootOuter: Hash = createHash('sha256').update(padded(rootKey, 0x5c));

const root: Level = (parts) => {
  const inner = rootInner.copy();
  for (const part of parts) inner.update(part);
  return rootOuter.copy().update(inner.digest()).digest();
};

/**
 * The VMess AEAD KDF (spec §3): nested HMAC-SHA256 with "VMess AEAD KDF" at the root and
 * each path element as the key of one more HMAC level, the last one outermost.
 * Returns 32 bytes.
 */
export function vmessKdf(key: Uint8Array, ...path: (string | Uint8Array)[]): Buffer {
  let level = root;
  for (const element of path) {
    const bytes = typeof element === 'string' ? Buffer.from(element, 'latin1') : element;
    const inner = padded(bytes, 0x36);
    const outer = padded(bytes, 0x5c);
    const previous = level;
    level = (parts) => previous([outer, previous([inner, ...parts])]);
  }
  return level([key]);
}

/** The first 16 bytes of the KDF: an AES-128 key. */
export function vmessKdf16(key: Uint8Array, ...path: (string | Uint8Array)[]): Buffer {
  return vmessKdf(key, ...path).subarray(0, 16);
}
