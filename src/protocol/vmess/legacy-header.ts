/**
 * The legacy request header (alterId > 0, spec §5L): HMAC-MD5 auth of a timestamp, then the
 * header under AES-128-CFB keyed with the primary cmdKey.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import type { Parsed } from '../../common/handshake-reader.js';
import { VmessAuthError, type OpenedRequest, type VmessUser } from './aead-header.js';
import { authIdWindowSeconds } from './auth-id.js';
import type { VmessIdentity } from './identity.js';
import { decodeRequestHeader, requestHeaderSize } from './request-header.js';

function timestampBytes(seconds: number): Buffer {
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(seconds));
  return ts;
}

function headerIv(ts: Buffer): Buffer {
  return createHash('md5').update(ts).update(ts).update(ts).update(ts).digest();
}

/** HMAC-MD5(id, ts): the 16-byte auth value a legacy client sends first. */
export function legacyAuth(id: Buffer, seconds: number): Buffer {
  return createHmac('md5', id).update(timestampBytes(seconds)).digest();
}

/** Auth || CFB(cmdKey, MD5(ts×4), header), authenticated with `id` (an alter ID, or the primary UUID). */
export function sealLegacyRequest(identity: VmessIdentity, id: Buffer, seconds: number, plain: Buffer): Buffer {
  const ts = timestampBytes(seconds);
  const cipher = createCipheriv('aes-128-cfb', identity.cmdKey, headerIv(ts));
  return Buffer.concat([legacyAuth(id, seconds), cipher.update(plain)]);
}

interface AuthEntry<T> {
  user: VmessUser<T>;
  seconds: number;
}

/**
 * The server's table of valid legacy auth values: HMAC-MD5 of every id (primary and alter IDs)
 * for every second within ±120 s of now, extended and pruned as time moves.
 */
export class LegacyAuthTable<T> {
  private readonly entries = new Map<string, AuthEntry<T>>();
  private readonly bySecond = new Map<number, string[]>();
  private from = 0;
  private to = -1;

  constructor(private readonly users: readonly VmessUser<T>[]) {}

  /** The user and timestamp `auth` stands for, if it is valid now. */
  lookup(auth: Buffer, nowSeconds: number): AuthEntry<T> | undefined {
    this.cover(nowSeconds - authIdWindowSeconds, nowSeconds + authIdWindowSeconds);
    return this.entries.get(auth.toString('latin1'));
  }

  private cover(from: number, to: number): void {
    for (let s = this.from; s < Math.min(from, this.to + 1); s++) {
      for (const key of this.bySecond.get(s) ?? []) this.entries.delete(key);
      this.bySecond.delete(s);
    }
    for (let s = Math.max(from, this.to + 1); s <= to; s++) {
      const keys: string[] = [];
      for (const user of this.users) {
        for (const id of [user.identity.uuid, ...user.identity.alterIds]) {
          const key = legacyAuth(id, s).toString('latin1');
          this.entries.set(key, { user, seconds: s });
          keys.push(key);
        }
      }
      this.bySecond.set(s, keys);
    }
    this.from = from;
    this.to = to;
  }
}

/**
 * Parses a legacy request: looks the auth value up, decrypts the header progressively.
 * Undefined while bytes are missing; VmessAuthError (drain) for an unknown auth value or a
 * corrupt header.
 */
export function openLegacyRequest<T>(
  buffer: Buffer,
  table: LegacyAuthTable<T>,
  nowSeconds: number,
): Parsed<OpenedRequest<T>> | undefined {
  if (buffer.length < 16) return undefined;
  const auth = buffer.subarray(0, 16);
  const entry = table.lookup(auth, nowSeconds);
  if (!entry) throw new VmessAuthError('unknown legacy auth value');
  const decipher = createDecipheriv('aes-128-cfb', entry.user.identity.cmdKey, headerIv(timestampBytes(entry.seconds)));
  let plain = Buffer.alloc(0);
  let size = requestHeaderSize(plain);
  while (plain.length < size) {
    if (buffer.length < 16 + size) return undefined;
    plain = Buffer.concat([plain, decipher.update(buffer.subarray(16 + plain.length, 16 + size))]);
    size = requestHeaderSize(plain);
  }
  let header;
  try {
    header = decodeRequestHeader(plain);
  } catch (error) {
    throw new VmessAuthError((error as Error).message);
  }
  return { value: { user: entry.user, header }, length: 16 + size };
}
