/** Cookies under load (spec §3.3, §5.1 step 3): the gateway's cookie and the type-3 reply that carries it. */
import { randomBytes } from 'node:crypto';
import { ipToBytes } from '../../../common/ip.js';
import { MessageSize, MessageType, header, indexBytes } from './messages.js';
import { hash, hmac, labelCookie, mac, open, seal } from '../crypto/primitives.js';

/** cookie(ip, port) = MAC(secret, ip bytes || port as big-endian u16). */
export function cookieFor(secret: Buffer, ip: string, port: number): Buffer {
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16BE(port);
  return mac(secret, Buffer.concat([ipToBytes(ip), portBytes]));
}

/** Kc = HASH(LABEL_COOKIE || Sg.pub): the root of every cookie reply's key. */
export function cookieReplyKey(gatewayPublic: Buffer): Buffer {
  return hash(labelCookie, gatewayPublic);
}

/** A 64-byte cookie reply to the initiation with `receiverIndex` and `mac1`. */
export function sealCookieReply(replyKey: Buffer, receiverIndex: number, mac1: Buffer, cookie: Buffer, nonce: Buffer = randomBytes(24)): Buffer {
  const key = hmac(replyKey, nonce);
  return Buffer.concat([header(MessageType.cookieReply), indexBytes(receiverIndex), nonce, seal(key, 0, cookie, mac1)]);
}

/** The cookie inside a reply, given the mac1 of the initiation it answers; undefined when it does not open. */
export function openCookieReply(replyKey: Buffer, message: Buffer, mac1: Buffer): Buffer | undefined {
  if (message.length !== MessageSize.cookieReply) return undefined;
  const key = hmac(replyKey, message.subarray(8, 32));
  return open(key, 0, message.subarray(32), mac1);
}
