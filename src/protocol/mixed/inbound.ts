import type { ConnectionHandler } from '../listener.js';
import { handleHttp } from '../http/inbound.js';
import { handleSocks } from '../socks/inbound.js';

/** Serves SOCKS5 or HTTP on one port, chosen by the first byte (0x05 is SOCKS5; HTTP starts with a letter). */
export const handleMixed: ConnectionHandler = async (socket, reader, session) => {
  const first = await reader.read((buffer) => ({ value: buffer[0]!, length: 0 }));
  return first === 0x05 ? handleSocks(socket, reader, session) : handleHttp(socket, reader, session);
};
