/**
 * The AEAD calls of native/aead.c on node:crypto, for a machine where the addon was not
 * built: same arguments, same results, a cipher object per call (slower; DESIGN §4).
 */
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';

/** Length of every AEAD tag used here. */
const tagLength = 16;
/** The transport header (spec §3.4): associated data, and its bytes 8–16 are the nonce's counter. */
const transportHeader = 16;

const names = ['aes-128-gcm', 'chacha20-poly1305'] as const;
const keyLengths = [16, 32] as const;

/** The addon's argument checks, with its TypeError (node:crypto would throw other errors, or accept a short nonce). */
function check(ok: boolean, call: string): void {
  if (!ok) throw new TypeError(`${call}: bad arguments or out too small`);
}

function checkCipher(cipher: number, key: Buffer, nonce: Buffer, call: string): void {
  check((cipher === 0 || cipher === 1) && key.length === keyLengths[cipher] && nonce.length === 12, call);
}

function cipherFor(cipher: number, key: Buffer, nonce: Buffer, aad: Buffer | undefined) {
  const c = createCipheriv(names[cipher] as CipherGCMTypes, key, nonce, { authTagLength: tagLength });
  if (aad && aad.length > 0) c.setAAD(aad);
  return c;
}

function decipherFor(cipher: number, key: Buffer, nonce: Buffer, tag: Buffer, aad: Buffer | undefined) {
  const d = createDecipheriv(names[cipher] as CipherGCMTypes, key, nonce, { authTagLength: tagLength });
  d.setAuthTag(tag);
  if (aad && aad.length > 0) d.setAAD(aad);
  return d;
}

/** native/aead.c's seal: ciphertext then tag into out[offset…). */
export function seal(cipher: number, key: Buffer, nonce: Buffer, plaintext: Buffer, out: Buffer, offset: number, aad?: Buffer): void {
  checkCipher(cipher, key, nonce, 'seal');
  check(Number.isInteger(offset) && offset >= 0 && offset + plaintext.length + tagLength <= out.length, 'seal');
  const c = cipherFor(cipher, key, nonce, aad);
  const body = c.update(plaintext);
  const rest = c.final();
  body.copy(out, offset);
  rest.copy(out, offset + body.length);
  c.getAuthTag().copy(out, offset + plaintext.length);
}

/** native/aead.c's open: false (and `out` zeroed) when the tag does not verify. */
export function open(cipher: number, key: Buffer, nonce: Buffer, ciphertext: Buffer | readonly Buffer[], tag: Buffer, aad: Buffer | undefined, out: Buffer): boolean {
  checkCipher(cipher, key, nonce, 'open');
  const pieces = Buffer.isBuffer(ciphertext) ? [ciphertext] : ciphertext;
  check(tag.length === tagLength && pieces.reduce((n, piece) => n + piece.length, 0) <= out.length, 'open');
  const d = decipherFor(cipher, key, nonce, tag, aad);
  let at = 0;
  try {
    for (const piece of pieces) at += d.update(piece).copy(out, at);
    d.final().copy(out, at);
    return true;
  } catch {
    out.fill(0);
    return false;
  }
}

function transportNonce(message: Buffer): Buffer {
  const nonce = Buffer.alloc(12);
  message.copy(nonce, 4, 8, 16);
  return nonce;
}

/** native/aead.c's sealTransport: encrypts message[16, length - 16) in place, tag in the last 16 bytes. */
export function sealTransport(key: Buffer, message: Buffer): void {
  if (key.length !== 32 || message.length < transportHeader + tagLength) throw new TypeError('sealTransport: a 32-byte key and a message of at least 32 bytes');
  const end = message.length - tagLength;
  const header = message.subarray(0, transportHeader);
  seal(1, key, transportNonce(message), message.subarray(transportHeader, end), message, transportHeader, header);
}

/** native/aead.c's openTransport: verifies and decrypts message[16, length - 16) in place; false (body zeroed) on a bad tag, false for a bad key or a short message. */
export function openTransport(key: Buffer, message: Buffer): boolean {
  if (key.length !== 32 || message.length < transportHeader + tagLength) return false;
  const end = message.length - tagLength;
  const body = message.subarray(transportHeader, end);
  const plain = Buffer.allocUnsafe(body.length);
  if (!open(1, key, transportNonce(message), body, message.subarray(end), message.subarray(0, transportHeader), plain)) {
    body.fill(0);
    return false;
  }
  plain.copy(body);
  return true;
}
