/** PQT v1 message types, sizes and header checks (spec §3). Little-endian integers. */

/** Message types. */
export const MessageType = { initiation: 1, response: 2, cookieReply: 3, data: 4 } as const;

/** Exact sizes of the handshake messages; data messages are at least `dataHeader + 16`. */
export const MessageSize = { initiation: 1332, response: 1212, cookieReply: 64, dataMinimum: 32 } as const;

/** Bytes of a data message before its sealed payload (type..counter), authenticated as AD. */
export const dataHeader = 16;

/**
 * The type of a well-formed message, or undefined for anything to drop silently: wrong
 * version, non-zero reserved bytes, or a length that does not fit the type (the first, free
 * DoS filter of §3).
 */
export function messageType(packet: Uint8Array): number | undefined {
  if (packet.length < 4 || packet[1] !== 1 || packet[2] !== 0 || packet[3] !== 0) return undefined;
  const type = packet[0]!;
  const fits =
    (type === MessageType.initiation && packet.length === MessageSize.initiation) ||
    (type === MessageType.response && packet.length === MessageSize.response) ||
    (type === MessageType.cookieReply && packet.length === MessageSize.cookieReply) ||
    (type === MessageType.data && packet.length >= MessageSize.dataMinimum);
  return fits ? type : undefined;
}

/** A 4-byte message header: type, version 1, two zero bytes. */
export function header(type: number): Buffer {
  return Buffer.of(type, 1, 0, 0);
}

/** Writes a u32 LE index. */
export function indexBytes(index: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(index >>> 0);
  return out;
}
