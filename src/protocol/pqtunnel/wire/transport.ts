/** Type-4 transport data messages (spec §3.4): seal and open one IP packet. */
import { addonOr } from '../../../common/addon.js';
import * as fallback from '../../../common/aead-fallback.js';
import { tagLength } from '../../../common/aead.js';
import { MessageType, dataHeader } from './messages.js';
import { rejectAfterMessages } from './replay-window.js';

/**
 * The transport AEAD in native/aead.c: ChaCha20-Poly1305 through the OpenSSL that node:crypto
 * wraps (spec §10: a node:crypto cipher object per packet costs several times the cipher itself).
 * The header is the associated data and carries the nonce's counter. Without the addon, node:crypto.
 */
interface TransportAead {
  /** Encrypts message[16, length - 16) in place and writes the tag into the last 16 bytes. */
  sealTransport(key: Buffer, message: Buffer): void;
  /** Verifies the tag and decrypts message[16, length - 16) in place; false (body zeroed) when it fails. */
  openTransport(key: Buffer, message: Buffer): boolean;
}

/** The addon, loaded on the first packet rather than looked up per packet. */
let transportAead: TransportAead | undefined;
const aead = (): TransportAead => (transportAead ??= addonOr<TransportAead>('aead', fallback));

/**
 * Seals one IP packet (empty: a keepalive) for the peer's `receiverIndex`, as message number
 * `counter`, zero-padded to a multiple of 16 but never beyond the MTU. The message is the only
 * buffer allocated; the packet is copied into it and encrypted there.
 */
export function sealData(key: Buffer, receiverIndex: number, counter: number, packet: Buffer, mtu: number): Buffer {
  const padded = Math.max(packet.length, Math.min(mtu, Math.ceil(packet.length / 16) * 16));
  const message = Buffer.allocUnsafe(dataHeader + padded + tagLength);
  message.writeUInt32LE(MessageType.data | (1 << 8), 0);
  message.writeUInt32LE(receiverIndex >>> 0, 4);
  message.writeUInt32LE(counter >>> 0, 8);
  message.writeUInt32LE(Math.floor(counter / 2 ** 32), 12);
  packet.copy(message, dataHeader);
  message.fill(0, dataHeader + packet.length, dataHeader + padded);
  aead().sealTransport(key, message);
  return message;
}

/** The receiver index and counter of a data message (for the table lookup and the replay pre-check). */
export function dataCounter(message: Buffer): { receiverIndex: number; counter: number } | undefined {
  const high = message.readUInt32LE(12);
  if (high >= 2 ** 21) return undefined;
  const counter = high * 2 ** 32 + message.readUInt32LE(8);
  if (counter >= rejectAfterMessages) return undefined;
  return { receiverIndex: message.readUInt32LE(4), counter };
}

/**
 * Opens a data message (its nonce is the counter in its header, already checked by `dataCounter`)
 * in place: returns the padded plaintext, a view of `message`, or undefined when the tag fails
 * (the body is then zeroed, never half-decrypted).
 */
export function openData(key: Buffer, message: Buffer): Buffer | undefined {
  if (message.length < dataHeader + tagLength) return undefined;
  return aead().openTransport(key, message) ? message.subarray(dataHeader, message.length - tagLength) : undefined;
}

/** The IP packet inside a padded plaintext, by its IPv4 total length / IPv6 payload length; undefined if inconsistent. */
export function unpadPacket(plain: Buffer): Buffer | undefined {
  if (plain.length === 0) return plain;
  const version = plain[0]! >> 4;
  let length: number;
  if (version === 4 && plain.length >= 20) length = plain.readUInt16BE(2);
  else if (version === 6 && plain.length >= 40) length = 40 + plain.readUInt16BE(4);
  else return undefined;
  return length <= plain.length && length > 0 ? plain.subarray(0, length) : undefined;
}
