/**
 * The client's half of SOCKS5 (RFC 1928) and username/password authentication (RFC 1929),
 * for `type: socks5` proxies: pure functions over bytes, the mirror of codec.ts. Parsers return
 * undefined when more bytes are needed and throw a SocksError when the server's bytes can never be valid.
 */
import type { Address } from '../../common/address.js';
import type { Parsed } from '../../common/handshake-reader.js';
import { decodeAddress, encodeAddress, Method, SocksError } from './codec.js';

/** VER NMETHODS METHODS: no authentication, plus username/password when the proxy has credentials. */
export function encodeGreeting(withPassword: boolean): Buffer {
  return withPassword ? Buffer.from([0x05, 2, Method.noAuth, Method.userPass]) : Buffer.from([0x05, 1, Method.noAuth]);
}

/** Parses the server's VER METHOD. */
export function parseMethodChoice(buffer: Buffer): Parsed<number> | undefined {
  if (buffer[0] !== 0x05) throw new SocksError(`the server is not a SOCKS5 server (version byte ${buffer[0]})`);
  if (buffer.length < 2) return undefined;
  return { value: buffer[1]!, length: 2 };
}

/** VER ULEN UNAME PLEN PASSWD; throws when a part is longer than 255 bytes. */
export function encodeCredentials(username: string, password: string): Buffer {
  const user = Buffer.from(username, 'utf8');
  const pass = Buffer.from(password, 'utf8');
  if (user.length > 255 || pass.length > 255) throw new SocksError('SOCKS5 user names and passwords are at most 255 bytes');
  return Buffer.concat([Buffer.from([0x01, user.length]), user, Buffer.from([pass.length]), pass]);
}

/** Parses VER STATUS of RFC 1929: true when the server accepted the credentials. */
export function parseAuthStatus(buffer: Buffer): Parsed<boolean> | undefined {
  if (buffer[0] !== 0x01 && buffer[0] !== 0x05) throw new SocksError(`bad username/password reply version ${buffer[0]}`);
  if (buffer.length < 2) return undefined;
  return { value: buffer[1] === 0x00, length: 2 };
}

/** VER CMD RSV ATYP DST.ADDR DST.PORT. */
export function encodeRequest(command: number, destination: Address): Buffer {
  return Buffer.concat([Buffer.from([0x05, command, 0x00]), encodeAddress(destination)]);
}

/** The server's reply: REP, and BND.ADDR/BND.PORT (for UDP ASSOCIATE, where datagrams go). */
export interface ReplyMessage {
  /** REP code; 0 is success. */
  reply: number;
  /** BND.ADDR and BND.PORT. */
  bound: Address;
}

/** Parses VER REP RSV ATYP BND.ADDR BND.PORT. */
export function parseReplyMessage(buffer: Buffer): Parsed<ReplyMessage> | undefined {
  if (buffer[0] !== 0x05) throw new SocksError(`bad reply version ${buffer[0]}`);
  if (buffer.length < 4) return undefined;
  const bound = decodeAddress(buffer, 3);
  if (!bound) return undefined;
  return { value: { reply: buffer[1]!, bound: bound.value }, length: 3 + bound.length };
}
