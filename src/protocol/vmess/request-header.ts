/**
 * The VMess request command header in plaintext (spec §4.1), shared by the AEAD and the
 * legacy header modes. Pure functions over bytes.
 */
import { SluiceError } from '../../common/errors.js';
import { ipFamily, type Address } from '../../common/address.js';
import { bytesToIp, ipToBytes } from '../../common/ip.js';
import { fnv1a32 } from './fnv.js';

/** Body security as the low nibble of byte 35 (spec §8.2). */
export const Security = { legacyCfb: 1, aes128Gcm: 3, chacha20Poly1305: 4, none: 5 } as const;
/** One of the body securities a header may carry. */
export type SecurityValue = (typeof Security)[keyof typeof Security];

/** Option bits (spec §8.1). */
export const Option = { chunkStream: 0x01, chunkMasking: 0x04, globalPadding: 0x08, authenticatedLength: 0x10 } as const;

/** Request commands. */
export const Command = { tcp: 0x01, udp: 0x02, mux: 0x03 } as const;

/** A request that cannot be served; the server closes (or drains) without answering. */
export class VmessError extends SluiceError {
  constructor(message: string, code = 'SLUICE_VMESS_BAD_HEADER') {
    super(code, message);
  }
}

/** The fields of a request header. */
export interface RequestHeader {
  /** Body IV of the request direction (16 bytes). */
  iv: Buffer;
  /** Body key of the request direction (16 bytes). */
  key: Buffer;
  /** Byte V the server echoes in its response header. */
  responseAuth: number;
  /** Option bits. */
  options: number;
  /** Body security. */
  security: SecurityValue;
  /** TCP, UDP or Mux. */
  command: number;
  /** Destination (absent for Mux). */
  destination?: Address;
}

const AddressType = { ipv4: 1, domain: 2, ipv6: 3 } as const;
const domainPattern = /^[A-Za-z0-9._-]{1,255}$/;

/** Encodes the header with `padding` random bytes (0..15) and its FNV-1a checksum. */
export function encodeRequestHeader(header: RequestHeader, padding: Buffer): Buffer {
  if (padding.length > 15) throw new Error('VMess header padding is 0..15 bytes');
  const fixed = Buffer.alloc(38);
  fixed[0] = 1;
  header.iv.copy(fixed, 1);
  header.key.copy(fixed, 17);
  fixed[33] = header.responseAuth;
  fixed[34] = header.options;
  fixed[35] = (padding.length << 4) | header.security;
  fixed[37] = header.command;
  const parts: Buffer[] = [fixed];
  if (header.command !== Command.mux) parts.push(encodeAddress(header.destination!));
  parts.push(padding);
  const body = Buffer.concat(parts);
  const checksum = Buffer.alloc(4);
  checksum.writeUInt32BE(fnv1a32(body));
  return Buffer.concat([body, checksum]);
}

function encodeAddress(address: Address): Buffer {
  const family = ipFamily(address.host);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(address.port);
  if (family !== 0) {
    return Buffer.concat([port, Buffer.of(family === 4 ? AddressType.ipv4 : AddressType.ipv6), ipToBytes(address.host)]);
  }
  if (!domainPattern.test(address.host)) throw new VmessError('VMess can only carry ASCII domain names of 1..255 bytes');
  return Buffer.concat([port, Buffer.of(AddressType.domain, address.host.length), Buffer.from(address.host, 'latin1')]);
}

/**
 * How many plaintext bytes the header needs, judging from the `known` bytes decrypted so far:
 * returns `known.length` once the whole header is there. Used by the legacy mode, which
 * decrypts the header progressively.
 */
export function requestHeaderSize(known: Buffer): number {
  if (known.length < 38) return 38;
  const padding = known[35]! >> 4;
  if (known[37] === Command.mux) return 38 + padding + 4;
  if (known.length < 41) return 41;
  const type = known[40];
  if (type === AddressType.ipv4) return 41 + 4 + padding + 4;
  if (type === AddressType.ipv6) return 41 + 16 + padding + 4;
  if (type !== AddressType.domain) throw new VmessError('unknown address type');
  if (known.length < 42) return 42;
  return 42 + known[41]! + padding + 4;
}

/** Decodes a complete header (extra bytes after the checksum are ignored); throws VmessError. */
export function decodeRequestHeader(plain: Buffer): RequestHeader {
  const size = requestHeaderSize(plain);
  if (plain.length < size) throw new VmessError('request header cut short');
  if (fnv1a32(plain.subarray(0, size - 4)) !== plain.readUInt32BE(size - 4)) throw new VmessError('request header checksum mismatch');
  const security = plain[35]! & 0x0f;
  if (security !== 0 && security !== 1 && security !== 3 && security !== 4 && security !== 5) {
    throw new VmessError(`unsupported security ${security}`);
  }
  const command = plain[37]!;
  if (command !== Command.tcp && command !== Command.udp && command !== Command.mux) throw new VmessError(`unknown command ${command}`);
  const header: RequestHeader = {
    iv: Buffer.from(plain.subarray(1, 17)),
    key: Buffer.from(plain.subarray(17, 33)),
    responseAuth: plain[33]!,
    options: plain[34]!,
    security: (security === 0 ? Security.legacyCfb : security) as SecurityValue,
    command,
  };
  if (command !== Command.mux) header.destination = decodeAddress(plain);
  return header;
}

function decodeAddress(plain: Buffer): Address {
  const port = plain.readUInt16BE(38);
  const type = plain[40];
  if (type === AddressType.ipv4) return { host: bytesToIp(plain.subarray(41, 45)), port };
  if (type === AddressType.ipv6) return { host: bytesToIp(plain.subarray(41, 57)), port };
  // The dispatcher checks the name, as it does every inbound's.
  return { host: plain.toString('utf8', 42, 42 + plain[41]!), port };
}
