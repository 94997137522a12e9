/** The 32-byte session parameters a gateway sends in its response (spec §8.2): address lease and MTU. */
import { bytesToIp, ipToBytes } from '../../../common/ip.js';

/** Decoded session parameters. */
export interface SessionParams {
  /** The client's IPv4 virtual address. */
  v4?: string;
  /** The client's IPv6 virtual address. */
  v6?: string;
  /** Prefix length the client configures for IPv4 (32: other clients are not on-link). */
  prefix4: number;
  /** Prefix length the client configures for IPv6. */
  prefix6: number;
  /** Tunnel MTU. */
  mtu: number;
  /** Suggested keepalive in seconds (0: the client's own default). */
  keepaliveSeconds: number;
  /** The gateway answers DNS on its tunnel address. */
  dns: boolean;
}

/** Encodes the parameters into the 32-byte field. */
export function encodeParams(params: SessionParams): Buffer {
  const out = Buffer.alloc(32);
  out[0] = (params.v4 ? 1 : 0) | (params.v6 ? 2 : 0) | (params.dns ? 4 : 0);
  out[1] = params.prefix4;
  out[2] = params.prefix6;
  out.writeUInt16BE(params.mtu, 4);
  out.writeUInt16BE(params.keepaliveSeconds, 6);
  if (params.v4) ipToBytes(params.v4).copy(out, 8);
  if (params.v6) ipToBytes(params.v6).copy(out, 12);
  return out;
}

/** Decodes the 32-byte field; undefined when it is malformed (wrong size, prefix lengths out of range, MTU below 576). */
export function decodeParams(field: Buffer): SessionParams | undefined {
  if (field.length !== 32) return undefined;
  const flags = field[0]!;
  const params: SessionParams = {
    prefix4: field[1]!,
    prefix6: field[2]!,
    mtu: field.readUInt16BE(4),
    keepaliveSeconds: field.readUInt16BE(6),
    dns: (flags & 4) !== 0,
  };
  if (params.prefix4 > 32 || params.prefix6 > 128 || params.mtu < 576) return undefined;
  if (flags & 1) params.v4 = bytesToIp(field.subarray(8, 12));
  if (flags & 2) params.v6 = bytesToIp(field.subarray(12, 28));
  return params;
}
