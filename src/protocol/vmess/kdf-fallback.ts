/**
 * The VMess AEAD KDF (spec §3) on node:crypto's SHA-256, for a machine where
 * native/vmess-kdf.c was not built: each level is an HMAC (RFC 2104, 64-byte blocks) whose
 * hash is the level below it, with SHA-256 at the bottom. About six times slower than the addon.
 */
import { createHash } from 'node:crypto';

type Hash = (data: Buffer) => Buffer;

const sha256: Hash = (data) => createHash('sha256').update(data).digest();

/** HMAC keyed by `key` over `hash`, itself usable as the hash of a further level. */
function hmacOver(hash: Hash, key: Uint8Array): Hash {
  const block = Buffer.alloc(64);
  (key.length > 64 ? hash(Buffer.from(key)) : Buffer.from(key)).copy(block);
  const inner = Buffer.from(block.map((b) => b ^ 0x36));
  const outer = Buffer.from(block.map((b) => b ^ 0x5c));
  return (data) => hash(Buffer.concat([outer, hash(Buffer.concat([inner, data]))]));
}

const root = Buffer.from('VMess AEAD KDF', 'latin1');

/** native/vmess-kdf.c's derive: the 32-byte KDF of `key` under `path`. */
export function derive(key: Uint8Array, ...path: Uint8Array[]): Buffer {
  // The addon's limits, with its TypeError.
  const fits = key instanceof Uint8Array && path.length <= 8 && path.every((element) => element instanceof Uint8Array && element.length <= 64);
  if (!fits) throw new TypeError('derive(key, ...path): up to 8 path elements of at most 64 bytes each');
  let hash = hmacOver(sha256, root);
  for (const element of path) hash = hmacOver(hash, element);
  return hash(Buffer.from(key));
}
