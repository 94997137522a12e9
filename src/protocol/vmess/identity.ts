import { createCipheriv, createDecipheriv, createHash, type Cipher, type Decipher } from 'node:crypto';
import { NIL, parse as parseUuid, v5 as uuidV5, validate as validateUuid } from 'uuid';
import { vmessKdf16 } from './kdf.js';

const cmdKeySuffix = 'c48619fe-8f02-49e0-b9e9-edf763e17e21';
const alterIdSalt = '16167dc8-16b6-4e6d-b8bb-65dd68113a81';
const alterIdRetrySalt = '533eff8a-4113-4b10-b5ce-0f5d76b98cd2';

/** A VMess user's keys, derived once from the UUID. */
export interface VmessIdentity {
  /** The 16 UUID bytes in textual order. */
  readonly uuid: Buffer;
  /** MD5(uuid || suffix): keys the request header. */
  readonly cmdKey: Buffer;
  /** AES key of the AuthID: KDF16(cmdKey, "AES Auth ID Encryption"). */
  readonly authIdKey: Buffer;
  /** Alter IDs (legacy header only), in chain order. */
  readonly alterIds: readonly Buffer[];
}

/**
 * Derives a user's keys. `uuid` is RFC 4122 text, or any other text, which stands for
 * UUIDv5(nil namespace, text) as in mihomo and Xray (`uuid: my-password`).
 */
export function vmessIdentity(uuid: string, alterIdCount = 0): VmessIdentity {
  const bytes = Buffer.from(parseUuid(validateUuid(uuid) ? uuid : uuidV5(uuid, NIL)));
  const cmdKey = createHash('md5').update(bytes).update(cmdKeySuffix).digest();
  const alterIds: Buffer[] = [];
  let previous: Buffer = bytes;
  for (let i = 0; i < alterIdCount; i++) {
    previous = nextAlterId(previous);
    alterIds.push(previous);
  }
  return { uuid: bytes, cmdKey, authIdKey: vmessKdf16(cmdKey, 'AES Auth ID Encryption'), alterIds };
}

function nextAlterId(id: Buffer): Buffer {
  const hash = createHash('md5').update(id).update(alterIdSalt);
  for (;;) {
    const candidate = hash.copy().digest();
    if (!candidate.equals(id)) return candidate;
    hash.update(alterIdRetrySalt);
  }
}

const encryptors = new WeakMap<Buffer, Cipher>();
const decryptors = new WeakMap<Buffer, Decipher>();

/**
 * The AES-128-ECB block cipher (no padding) for AuthIDs under `key`, made once per key object
 * and reused: ECB keeps no state between whole blocks, and callers pass 16 bytes and never
 * call final(). A server tries every user's key on each connection.
 */
export function ecbEncryptor(key: Buffer): Cipher {
  let cipher = encryptors.get(key);
  if (!cipher) encryptors.set(key, (cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false)));
  return cipher;
}

/** The decrypting side of `ecbEncryptor`, made once per key object as well. */
export function ecbDecryptor(key: Buffer): Decipher {
  let decipher = decryptors.get(key);
  if (!decipher) decryptors.set(key, (decipher = createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false)));
  return decipher;
}
