/** Type-4 transport data messages (spec §3.4): seal and open one IP packet. */
import { createCipheriv } from 'node:crypto';
import { aeadOpen, tagLength } from '../../common/aead.js';
import { MessageType, dataHeader } from './messages.js';
import { rejectAfterMessages } from './replay-window.js';

/** The AEAD nonce of the message in hand: 4 zero bytes || the counter, copied from the header (node:crypto copies the IV at init). */
const nonceScratch = Buffer.alloc(12);
/** Where a packet is copied to be padded, grown to the largest packet seen. */
let padScratch = Buffer.alloc(2048);

/**
 * Seals one IP packet (empty: a keepalive) for the peer's `receiverIndex`, as message number
 * `counter`, zero-padded to a multiple of 16 but never beyond the MTU. The message is the
 * only buffer allocated here and the cipher is called once; what remains per packet is
 * node:crypto's own cost (cipher object, output and tag buffers).
 */
export function sealData(key: Buffer, receiverIndex: number, counter: number, packet: Buffer, mtu: number): Buffer {
  const padded = Math.max(packet.length, Math.min(mtu, Math.ceil(packet.length / 16) * 16));
  const message = Buffer.allocUnsafe(dataHeader + padded + tagLength);
  message.writeUInt32LE(MessageType.data | (1 << 8), 0);
  message.writeUInt32LE(receiverIndex >>> 0, 4);
  message.writeUInt32LE(counter >>> 0, 8);
  message.writeUInt32LE(Math.floor(counter / 2 ** 32), 12);
  message.copy(nonceScratch, 4, 8, dataHeader);
  let plaintext = packet;
  if (padded > packet.length) {
    if (padScratch.length < padded) padScratch = Buffer.alloc(padded);
    packet.copy(padScratch);
    padScratch.fill(0, packet.length, padded);
    plaintext = padScratch.subarray(0, padded);
  }
  const cipher = createCipheriv('chacha20-poly1305', key, nonceScratch, { authTagLength: tagLength });
  cipher.setAAD(message.subarray(0, dataHeader), { plaintextLength: padded });
  cipher.update(plaintext).copy(message, dataHeader);
  cipher.final();
  cipher.getAuthTag().copy(message, dataHeader + padded);
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
 * Opens a data message (its nonce is the counter in its header, already checked by `dataCounter`);
 * undefined when the tag fails. Returns the padded plaintext.
 */
export function openData(key: Buffer, message: Buffer): Buffer | undefined {
  if (message.length < dataHeader + tagLength) return undefined;
  message.copy(nonceScratch, 4, 8, dataHeader);
  return aeadOpen('chacha20-poly1305', key, nonceScratch, message.subarray(dataHeader), message.subarray(0, dataHeader));
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
