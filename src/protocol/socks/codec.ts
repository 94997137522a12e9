/**
 * SOCKS5 wire format (RFC 1928) and username/password sub-negotiation (RFC 1929).
 * Pure functions over bytes: parsers return undefined when more bytes are needed and
 * throw a SocksError when the bytes can never be valid.
 */
import { SluiceError } from '../../common/errors.js';
import { ipFamily, type Address } from '../../common/address.js';
import type { Parsed } from '../../common/handshake-reader.js';
import { bytesToIp, ipToBytes } from '../../common/ip.js';

/** Authentication methods (RFC 1928 §3). */
export const Method = { noAuth: 0x00, userPass: 0x02, noAcceptable: 0xff } as const;

/** Request commands (RFC 1928 §4). */
export const Command = { connect: 0x01, bind: 0x02, udpAssociate: 0x03 } as const;

/** Reply codes (RFC 1928 §6). */
export const Reply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

const AddressType = { ipv4: 0x01, domain: 0x03, ipv6: 0x04 } as const;

/** A handshake that can never be valid; `reply` is the REP code to answer with, if any. */
export class SocksError extends SluiceError {
  constructor(
    message: string,
    /** REP code to send before closing, when the protocol allows a reply at this stage. */
    readonly reply?: number,
  ) {
    super('SLUICE_SOCKS_BAD_REQUEST', message);
  }
}

/** The client's greeting: which auth methods it offers. */
export interface Greeting {
  /** Offered method codes. */
  methods: number[];
}

/** Parses VER NMETHODS METHODS. */
export function parseGreeting(buffer: Buffer): Parsed<Greeting> | undefined {
  const version = buffer[0]!;
  if (version !== 5) {
    throw new SocksError(version === 4 ? 'SOCKS4 is not supported' : `not SOCKS5 (version byte ${version})`);
  }
  if (buffer.length < 2) return undefined;
  const count = buffer[1]!;
  if (count === 0) throw new SocksError('greeting offers no authentication method');
  if (buffer.length < 2 + count) return undefined;
  return { value: { methods: [...buffer.subarray(2, 2 + count)] }, length: 2 + count };
}

/** VER METHOD: the server's choice of method. */
export function encodeMethodChoice(method: number): Buffer {
  return Buffer.from([0x05, method]);
}

/** RFC 1929 credentials. */
export interface Credentials {
  /** User name as sent (UTF-8). */
  username: string;
  /** Password as sent (UTF-8). */
  password: string;
}

/** Parses VER ULEN UNAME PLEN PASSWD (RFC 1929). */
export function parseCredentials(buffer: Buffer): Parsed<Credentials> | undefined {
  if (buffer[0] !== 0x01) throw new SocksError(`bad username/password version ${buffer[0]}`);
  if (buffer.length < 2) return undefined;
  const userLength = buffer[1]!;
  if (buffer.length < 3 + userLength) return undefined;
  const passLength = buffer[2 + userLength]!;
  const end = 3 + userLength + passLength;
  if (buffer.length < end) return undefined;
  return {
    value: {
      username: buffer.toString('utf8', 2, 2 + userLength),
      password: buffer.toString('utf8', 3 + userLength, end),
    },
    length: end,
  };
}

/** VER STATUS for RFC 1929: 0 means success. */
export function encodeAuthStatus(ok: boolean): Buffer {
  return Buffer.from([0x01, ok ? 0x00 : 0x01]);
}

/** A request: command and destination. */
export interface Request {
  /** CONNECT, BIND or UDP ASSOCIATE (other values are returned too, to be refused). */
  command: number;
  /** DST.ADDR and DST.PORT. */
  address: Address;
}

/** Parses VER CMD RSV ATYP DST.ADDR DST.PORT. */
export function parseRequest(buffer: Buffer): Parsed<Request> | undefined {
  if (buffer[0] !== 0x05) throw new SocksError(`bad request version ${buffer[0]}`, Reply.generalFailure);
  if (buffer.length < 4) return undefined;
  const address = decodeAddress(buffer, 3);
  if (!address) return undefined;
  return { value: { command: buffer[1]!, address: address.value }, length: 3 + address.length };
}

/** VER REP RSV ATYP BND.ADDR BND.PORT; the bound address defaults to 0.0.0.0:0. */
export function encodeReply(reply: number, bound: Address = { host: '0.0.0.0', port: 0 }): Buffer {
  return Buffer.concat([Buffer.from([0x05, reply, 0x00]), encodeAddress(bound)]);
}

/** One SOCKS5 UDP datagram (RFC 1928 §7). */
export interface Datagram {
  /** Fragment number; only 0 (standalone) is accepted by sluice. */
  fragment: number;
  /** Destination (client → server) or source (server → client). */
  address: Address;
  /** Payload. */
  data: Buffer;
}

/** Parses RSV RSV FRAG ATYP ADDR PORT DATA; throws when the header is cut short or invalid. */
export function parseDatagram(packet: Buffer): Datagram {
  if (packet.length < 4) throw new SocksError('UDP datagram shorter than its header');
  const address = decodeAddress(packet, 3);
  if (!address) throw new SocksError('UDP datagram header cut short');
  return { fragment: packet[2]!, address: address.value, data: packet.subarray(3 + address.length) };
}

/** Builds RSV RSV FRAG=0 ATYP ADDR PORT DATA. */
export function encodeDatagram(address: Address, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0]), encodeAddress(address), data]);
}

/** ATYP ADDR PORT for an address. */
export function encodeAddress(address: Address): Buffer {
  const family = ipFamily(address.host);
  let head: Buffer;
  if (family === 0) {
    const name = Buffer.from(address.host, 'utf8');
    if (name.length === 0 || name.length > 255) throw new SocksError(`domain of ${name.length} bytes cannot be sent`);
    head = Buffer.concat([Buffer.from([AddressType.domain, name.length]), name]);
  } else {
    head = Buffer.concat([Buffer.from([family === 4 ? AddressType.ipv4 : AddressType.ipv6]), ipToBytes(address.host)]);
  }
  const port = Buffer.alloc(2);
  port.writeUInt16BE(address.port);
  return Buffer.concat([head, port]);
}

/** Decodes ATYP ADDR PORT at `offset`; undefined when incomplete, SocksError (REP 0x08) when invalid. */
export function decodeAddress(buffer: Buffer, offset: number): Parsed<Address> | undefined {
  if (buffer.length <= offset) return undefined;
  const type = buffer[offset]!;
  let hostStart = offset + 1;
  let hostLength: number;
  if (type === AddressType.ipv4) hostLength = 4;
  else if (type === AddressType.ipv6) hostLength = 16;
  else if (type === AddressType.domain) {
    if (buffer.length <= offset + 1) return undefined;
    hostLength = buffer[offset + 1]!;
    hostStart++;
    if (hostLength === 0) throw new SocksError('empty domain name', Reply.addressTypeNotSupported);
  } else throw new SocksError(`unknown address type ${type}`, Reply.addressTypeNotSupported);
  const end = hostStart + hostLength + 2;
  if (buffer.length < end) return undefined;
  const raw = buffer.subarray(hostStart, hostStart + hostLength);
  const host = type === AddressType.domain ? raw.toString('utf8') : bytesToIp(raw);
  return { value: { host, port: buffer.readUInt16BE(hostStart + hostLength) }, length: end - offset };
}
