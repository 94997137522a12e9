/**
 * The VMess AEAD KDF (spec §3): nested HMAC-SHA256 with "VMess AEAD KDF" at the root and each
 * path element as the key of one more HMAC level, the last one outermost.
 *
 * It runs in native/vmess-kdf.c on OpenSSL's SHA-256: a depth-3 KDF is 16 nested SHA-256
 * digests, a connection needs four of them and four of depth 1 per side, and in JavaScript that
 * was about 100 µs of a connection's CPU per side; natively a depth-3 KDF takes about 3.5 µs
 * against 20 µs. Without the addon it runs on node:crypto (kdf-fallback.ts). The tests hold both
 * to an HMAC built from @noble/hashes.
 */
import { addonOr } from '../../common/addon.js';
import * as fallback from './kdf-fallback.js';

/** native/vmess-kdf.c. */
interface KdfAddon {
  /** The 32-byte KDF of `key` under up to 8 path elements of at most 64 bytes each; throws a TypeError otherwise. */
  derive(key: Uint8Array, ...path: Uint8Array[]): Buffer;
}

let addon: KdfAddon | undefined;
const native = (): KdfAddon => (addon ??= addonOr<KdfAddon>('vmess_kdf', fallback));

/** Path strings as bytes, converted once (VMess uses a handful of constant labels). */
const labels = new Map<string, Buffer>();
const label = (text: string): Buffer => {
  let bytes = labels.get(text);
  if (!bytes) labels.set(text, (bytes = Buffer.from(text, 'latin1')));
  return bytes;
};

/** The 32-byte KDF of `key` under `path`. */
export function vmessKdf(key: Uint8Array, ...path: (string | Uint8Array)[]): Buffer {
  return native().derive(key, ...path.map((element) => (typeof element === 'string' ? label(element) : element)));
}

/** The first 16 bytes of the KDF: an AES-128 key. */
export function vmessKdf16(key: Uint8Array, ...path: (string | Uint8Array)[]): Buffer {
  return vmessKdf(key, ...path).subarray(0, 16);
}
