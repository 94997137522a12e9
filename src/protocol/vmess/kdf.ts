/**
 * The VMess AEAD KDF (spec §3): nested HMAC-SHA256 with "VMess AEAD KDF" at the root and each
 * path element as the key of one more HMAC level, the last one outermost.
 *
 * A depth-3 KDF is 16 SHA-256 evaluations, and a connection needs four of them per side. Each is
 * only one or two blocks, so node:crypto's per-call cost (a Hash object per copy and digest)
 * dominated; @noble/hashes' SHA-256 lets us keep the midstates and clone them into reused
 * objects instead. Every level's hash of m starts from a midstate that has absorbed the inner
 * pads of all levels up to it, and the levels of the constant path strings are built once.
 */
import { sha256 } from '@noble/hashes/sha2.js';

type Sha256 = ReturnType<typeof sha256.create>;

/** One HMAC level of the KDF's nested hash. */
interface Level {
  /** SHA-256 after the inner pads (key ⊕ 0x36) of the root and of every level up to this one. */
  start: Sha256;
  /** The parent's `start` after this level's outer pad (key ⊕ 0x5c); absent at plain SHA-256. */
  outerStart?: Sha256;
  /** The level whose hash this one's HMAC uses; absent at plain SHA-256. */
  parent?: Level;
}

const blockSize = 64;

function padded(key: Uint8Array, fill: number): Uint8Array {
  if (key.length > blockSize) throw new Error('VMess KDF path elements are at most 64 bytes');
  const block = new Uint8Array(blockSize).fill(fill);
  for (let i = 0; i < key.length; i++) block[i]! ^= key[i]!;
  return block;
}

function child(parent: Level, key: Uint8Array): Level {
  return {
    start: parent.start.clone().update(padded(key, 0x36)),
    outerStart: parent.start.clone().update(padded(key, 0x5c)),
    parent,
  };
}

const root = child({ start: sha256.create() }, Buffer.from('VMess AEAD KDF', 'latin1'));
/** Levels under the root keyed by a constant string (the first path element VMess uses). */
const constantLevels = new Map<string, Level>();

/** Finishes `level`'s hash of the message absorbed into `state`, which it consumes and reuses. */
function finish(level: Level, state: Sha256): Uint8Array {
  if (!level.parent) return state.digest();
  const inner = finish(level.parent, state);
  return finish(level.parent, level.outerStart!._cloneInto(state).update(inner));
}

/** The 32-byte KDF of `key` under `path`. */
export function vmessKdf(key: Uint8Array, ...path: (string | Uint8Array)[]): Buffer {
  let level = root;
  path.forEach((element, i) => {
    if (typeof element !== 'string') level = child(level, element);
    else if (i > 0) level = child(level, Buffer.from(element, 'latin1'));
    else {
      let cached = constantLevels.get(element);
      if (!cached) constantLevels.set(element, (cached = child(root, Buffer.from(element, 'latin1'))));
      level = cached;
    }
  });
  const out = finish(level, level.start.clone().update(key));
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** The first 16 bytes of the KDF: an AES-128 key. */
export function vmessKdf16(key: Uint8Array, ...path: (string | Uint8Array)[]): Buffer {
  return vmessKdf(key, ...path).subarray(0, 16);
}
