/** Type-4 transport data messages (spec §3.4): seal and open one IP packet. */
import { createCipheriv } from 'node:crypto';
import { tagLength } from '../../common/aead.js';
import { MessageType, dataHeader } from './messages.js';
import { nonce, open } from './primitives.js';
import { rejectAfterMessages } from './replay-window.js';

const zeros = Buffer.alloc(16);

/**
 * Seals one IP packet (empty: a keepalive) for the peer's `receiverIndex`, as message number
 * `counter`. The zero padding (to a multiple of 16, never beyond the MTU) is fed to the cipher
 * separately, so the packet itself is never copied before encryption.
 */
export function sealData(key: Buffer, receiverIndex: number, counter: number, packet: Buffer, mtu: number): Buffer {
  const head = Buffer.allocUnsafe(dataHeader);
  head.writeUInt32LE(MessageType.data | (1 << 8), 0);
  head.writeUInt32LE(receiverIndex >>> 0, 4);
  head.writeUInt32LE(counter >>> 0, 8);
  head.writeUInt32LE(Math.floor(counter / 2 ** 32), 12);
  const padding = Math.max(0, Math.min(mtu, Math.ceil(packet.length / 16) * 16) - packet.length);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: tagLength });
  cipher.setAAD(head, { plaintextLength: packet.length + padding });
  const parts = [head, cipher.update(packet)];
  if (padding > 0) parts.push(cipher.update(zeros.subarray(0, padding)));
  cipher.final();
  parts.push(cipher.getAuthTag());
  return Buffer.concat(parts);
}

/** The receiver index and counter of a data message (for the table lookup and the replay pre-check). */
export function dataCounter(message: Buffer): { receiverIndex: number; counter: number } | undefined {
  const high = message.readUInt32LE(12);
  if (high >= 2 ** 21) return undefined;
  const counter = high * 2 ** 32 + message.readUInt32LE(8);
  if (counter >= rejectAfterMessages) return undefined;
  return { receiverIndex: message.readUInt32LE(4), counter };
}

/** Opens a data message; undefined when the tag fails. Returns the padded plaintext. */
export function openData(key: Buffer, counter: number, message: Buffer): Buffer | undefined {
  return open(key, counter, message.subarray(dataHeader), message.subarray(0, dataHeader));
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
