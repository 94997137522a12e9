/** Type-4 transport data messages (spec §3.4): seal and open one IP packet. */
import { MessageType, dataHeader, header, indexBytes } from './messages.js';
import { open, seal } from './primitives.js';
import { rejectAfterMessages } from './replay-window.js';

/** Zero padding to a multiple of 16 bytes, never beyond the tunnel MTU. */
function padded(packet: Buffer, mtu: number): Buffer {
  const length = Math.min(mtu, Math.ceil(packet.length / 16) * 16);
  if (length <= packet.length) return packet;
  const out = Buffer.alloc(length);
  packet.copy(out);
  return out;
}

/** Seals one IP packet (empty: a keepalive) for the peer's `receiverIndex`, as message number `counter`. */
export function sealData(key: Buffer, receiverIndex: number, counter: number, packet: Buffer, mtu: number): Buffer {
  const head = Buffer.concat([header(MessageType.data), indexBytes(receiverIndex), Buffer.alloc(8)]);
  head.writeUInt32LE(counter >>> 0, 8);
  head.writeUInt32LE(Math.floor(counter / 2 ** 32), 12);
  return Buffer.concat([head, seal(key, counter, padded(packet, mtu), head)]);
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
