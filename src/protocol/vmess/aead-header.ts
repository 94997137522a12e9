/**
 * Sealing and opening of the AEAD request header (spec §5) and of the response header in
 * both modes (spec §6). Pure functions over bytes, plus the server's user lookup.
 */
import { createCipheriv, createDecipheriv, hash, type Cipher, type Decipher } from 'node:crypto';
import { aeadOpen, aeadSeal } from '../../common/aead.js';
import { randomSlice } from '../../common/random-pool.js';
import type { Parsed } from '../../common/handshake-reader.js';
import { authIdWindowSeconds, createAuthId, openAuthId, type ReplayFilter } from './auth-id.js';
import type { VmessIdentity } from './identity.js';
import { vmessKdf, vmessKdf16 } from './kdf.js';
import { decodeRequestHeader, VmessError, type RequestHeader } from './request-header.js';

/** Authentication failed: the server must drain and close, never answer (spec §11). */
export class VmessAuthError extends VmessError {
  constructor(message: string, code = 'SLUICE_VMESS_AUTH') {
    super(message, code);
  }
}

/** No configured user matches the 16 bytes as an AuthID (or its time is off): a legacy header may still. */
export class VmessUnknownUserError extends VmessAuthError {
  constructor() {
    super('no user matches the AuthID (or its time is outside the window)', 'SLUICE_VMESS_UNKNOWN_USER');
  }
}

/** AES-GCM keys and nonces of a sealed request header (spec §5.2). */
function requestHeaderKeys(cmdKey: Buffer, authId: Buffer, nonce: Buffer) {
  return {
    lengthKey: vmessKdf16(cmdKey, 'VMess Header AEAD Key_Length', authId, nonce),
    lengthNonce: vmessKdf(cmdKey, 'VMess Header AEAD Nonce_Length', authId, nonce).subarray(0, 12),
    payloadKey: vmessKdf16(cmdKey, 'VMess Header AEAD Key', authId, nonce),
    payloadNonce: vmessKdf(cmdKey, 'VMess Header AEAD Nonce', authId, nonce).subarray(0, 12),
  };
}

/** AES-GCM keys and nonces of a sealed response header (spec §6.3). */
function responseHeaderKeys(key: Buffer, iv: Buffer) {
  return {
    lengthKey: vmessKdf16(key, 'AEAD Resp Header Len Key'),
    lengthNonce: vmessKdf(iv, 'AEAD Resp Header Len IV').subarray(0, 12),
    payloadKey: vmessKdf16(key, 'AEAD Resp Header Key'),
    payloadNonce: vmessKdf(iv, 'AEAD Resp Header IV').subarray(0, 12),
  };
}

function lengthBytes(plain: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(plain.length);
  return length;
}

/** Seals a plaintext request header: AuthID || EncLen || N8 || EncHdr. */
export function sealRequestHeader(
  identity: VmessIdentity,
  plain: Buffer,
  nowSeconds: number,
  random: { authId: Buffer; nonce: Buffer } = { authId: randomSlice(4), nonce: randomSlice(8) },
): Buffer {
  const authId = createAuthId(identity.authIdKey, nowSeconds, random.authId);
  const { nonce } = random;
  const keys = requestHeaderKeys(identity.cmdKey, authId, nonce);
  return Buffer.concat([
    authId,
    aeadSeal('aes-128-gcm', keys.lengthKey, keys.lengthNonce, lengthBytes(plain), authId),
    nonce,
    aeadSeal('aes-128-gcm', keys.payloadKey, keys.payloadNonce, plain, authId),
  ]);
}

/** A user the server accepts, with what it needs to recognise their AuthIDs. */
export interface VmessUser<T> {
  /** The user's keys. */
  identity: VmessIdentity;
  /** Whatever the caller attaches (name, alter ID count). */
  info: T;
}

/** A request header the server has authenticated and decoded. */
export interface OpenedRequest<T> {
  /** Who sent it. */
  user: VmessUser<T>;
  /** Its fields. */
  header: RequestHeader;
}

/**
 * Parses an AEAD request header for a server: finds the user by AuthID, checks the time
 * window and the replay filter, opens both seals. Undefined while bytes are missing;
 * throws VmessAuthError (drain) or VmessError (close).
 */
export function openAeadRequest<T>(
  buffer: Buffer,
  users: readonly VmessUser<T>[],
  nowSeconds: number,
  replay: ReplayFilter,
): Parsed<OpenedRequest<T>> | undefined {
  if (buffer.length < 16) return undefined;
  const authId = buffer.subarray(0, 16);
  let user: VmessUser<T> | undefined;
  for (const candidate of users) {
    const opened = openAuthId(candidate.identity.authIdKey, authId);
    if (opened && Math.abs(opened.time - nowSeconds) <= authIdWindowSeconds && opened.time >= 0) {
      user = candidate;
      break;
    }
  }
  if (!user) throw new VmessUnknownUserError();
  if (buffer.length < 42) return undefined;
  const keys = requestHeaderKeys(user.identity.cmdKey, authId, buffer.subarray(34, 42));
  const length = aeadOpen('aes-128-gcm', keys.lengthKey, keys.lengthNonce, buffer.subarray(16, 34), authId);
  if (!length) throw new VmessAuthError('header length does not authenticate');
  const end = 42 + length.readUInt16BE(0) + 16;
  if (buffer.length < end) return undefined;
  const plain = aeadOpen('aes-128-gcm', keys.payloadKey, keys.payloadNonce, buffer.subarray(42, end), authId);
  if (!plain) throw new VmessAuthError('header does not authenticate');
  if (!replay.check(authId)) throw new VmessAuthError('replayed AuthID');
  return { value: { user, header: decodeRequestHeader(plain) }, length: end };
}

/** Response body key and IV (spec §6.1): SHA-256 prefixes after an AEAD header, MD5 after a legacy one. */
export function responseKeys(header: RequestHeader, legacy: boolean): { key: Buffer; iv: Buffer } {
  const digest = (data: Buffer): Buffer => (legacy ? hash('md5', data, 'buffer') : hash('sha256', data, 'buffer').subarray(0, 16));
  return { key: digest(header.key), iv: digest(header.iv) };
}

/** The 4-byte response header the server sends: V, options 0, no command. */
export function responseHeaderPlain(responseAuth: number): Buffer {
  return Buffer.of(responseAuth, 0, 0, 0);
}

/** Seals a response header after an AEAD request (spec §6.3). */
export function sealAeadResponse(key: Buffer, iv: Buffer, plain: Buffer): Buffer {
  const keys = responseHeaderKeys(key, iv);
  return Buffer.concat([
    aeadSeal('aes-128-gcm', keys.lengthKey, keys.lengthNonce, lengthBytes(plain)),
    aeadSeal('aes-128-gcm', keys.payloadKey, keys.payloadNonce, plain),
  ]);
}

/** Opens a response header after an AEAD request; undefined while bytes are missing; VmessError when it fails. */
export function openAeadResponse(key: Buffer, iv: Buffer, buffer: Buffer): Parsed<Buffer> | undefined {
  if (buffer.length < 18) return undefined;
  const keys = responseHeaderKeys(key, iv);
  const length = aeadOpen('aes-128-gcm', keys.lengthKey, keys.lengthNonce, buffer.subarray(0, 18));
  if (!length) throw new VmessError('response header length does not authenticate');
  const end = 18 + length.readUInt16BE(0) + 16;
  if (buffer.length < end) return undefined;
  const plain = aeadOpen('aes-128-gcm', keys.payloadKey, keys.payloadNonce, buffer.subarray(18, end));
  if (!plain) throw new VmessError('response header does not authenticate');
  return { value: plain, length: end };
}

/** The AES-128-CFB stream of a legacy response header; an aes-128-cfb body continues it (spec §6.4). */
export function legacyResponseCipher(key: Buffer, iv: Buffer): Cipher {
  return createCipheriv('aes-128-cfb', key, iv);
}

/** The client's side of `legacyResponseCipher`. */
export function legacyResponseDecipher(key: Buffer, iv: Buffer): Decipher {
  return createDecipheriv('aes-128-cfb', key, iv);
}

/** Checks a decrypted response header (V, command length) and returns its full length, or undefined while short. */
export function checkResponseHeader(plain: Buffer, responseAuth: number): number | undefined {
  if (plain.length < 4) return undefined;
  if (plain[0] !== responseAuth) throw new VmessError('response header does not match the request');
  return 4 + plain[3]!;
}
