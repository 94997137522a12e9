/** Key text the way `wg` prints it: 32 raw bytes in standard base64 (44 characters). */
import { randomBytes } from 'node:crypto';
import { maxStateBytes, readRegularFileSync } from '../../../common/bounded-file.js';
import { x25519FromPrivate, x25519RandomPrivate } from './primitives.js';

/** A fresh X25519 private key, base64. */
export function generatePrivateKey(): string {
  return x25519RandomPrivate().toString('base64');
}

/** The public key of a base64 private key, base64. Throws with a clear message on bad input. */
export function publicKeyOf(privateKey: string): string {
  return x25519FromPrivate(decodeKey(privateKey, 'private key')).publicKey.toString('base64');
}

/** A fresh 32-byte pre-shared key, base64. */
export function generatePresharedKey(): string {
  return randomBytes(32).toString('base64');
}

/** Decodes a 44-character base64 key, or reads it from a file when given `file:PATH`. */
export function decodeKey(text: string, what: string): Buffer {
  const value = text.startsWith('file:') ? readRegularFileSync(text.slice(5), maxStateBytes).toString('utf8').trim() : text.trim();
  const bytes = Buffer.from(value, 'base64');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(value) || bytes.length !== 32) {
    throw new Error(`${what} must be 32 bytes in base64 (44 characters, as sluice genkey prints)`);
  }
  return bytes;
}
