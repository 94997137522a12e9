import { randomInt } from 'node:crypto';
import type { Address } from '../../common/address.js';
import { randomSlice } from '../../common/random-pool.js';
import { checkResponseHeader, legacyResponseDecipher, openAeadResponse, responseKeys, sealRequestHeader } from './aead-header.js';
import { BodyWriter, type BodySpec } from './body.js';
import { BodyReader } from './body-reader.js';
import type { VmessIdentity } from './identity.js';
import { sealLegacyRequest } from './legacy-header.js';
import { encodeRequestHeader, Option, Security, type RequestHeader, type SecurityValue } from './request-header.js';
import type { VmessStreamOptions } from './stream.js';

/** Client-side choices for one VMess server (from a Clash `proxies:` entry). */
export interface VmessClientConfig {
  /** The user's keys. */
  identity: VmessIdentity;
  /** Alter ID count: 0 sends the AEAD header, more sends the legacy header. */
  alterId: number;
  /** Body security on the wire (`auto` already resolved). */
  security: SecurityValue;
  /** `zero`: security none with no chunk stream and no masking. */
  zero: boolean;
  /** Send option A (only v2fly >= 4.41, v5 and Xray understand it). */
  authenticatedLength: boolean;
}

/** The option byte a stock client sends for this configuration (spec §8.1). */
export function clientOptions(config: VmessClientConfig): number {
  if (config.zero) return 0;
  const aead = config.security === Security.aes128Gcm || config.security === Security.chacha20Poly1305;
  let options = Option.chunkStream | Option.chunkMasking;
  if (aead) options |= Option.globalPadding;
  if (aead && config.authenticatedLength) options |= Option.authenticatedLength;
  return options;
}

/**
 * Everything the client side of one connection needs: the sealed request header, the body
 * writer and reader, and the response header parser.
 */
export function clientSession(
  config: VmessClientConfig,
  command: number,
  destination: Address,
  nowSeconds = Math.floor(Date.now() / 1000),
): Omit<VmessStreamOptions, 'socket'> {
  const random = randomSlice(16 + 16 + 1 + 1 + 15 + 4 + 8);
  const header: RequestHeader = {
    iv: random.subarray(0, 16),
    key: random.subarray(16, 32),
    responseAuth: random[32]!,
    options: clientOptions(config),
    security: config.security,
    command,
    destination,
  };
  const plain = encodeRequestHeader(header, random.subarray(34, 34 + (random[33]! & 15)));
  const legacy = config.alterId > 0;
  const prefix = legacy
    ? sealLegacyRequest(config.identity, config.identity.alterIds[randomInt(config.alterId)]!, nowSeconds + randomInt(-30, 30), plain)
    : sealRequestHeader(config.identity, plain, nowSeconds, { authId: random.subarray(49, 53), nonce: random.subarray(53, 61) });
  const request = { key: header.key, iv: header.iv };
  const packets = command === 2;
  const base = { security: header.security, options: header.options, request, packets };
  const response = responseKeys(header, legacy);
  const responseSpec: BodySpec = { ...base, ...response };
  let readHeader: (buffer: Buffer) => number | undefined;
  if (legacy) {
    const decipher = legacyResponseDecipher(response.key, response.iv);
    if (header.security === Security.legacyCfb) responseSpec.cfb = decipher;
    let plainHead = Buffer.alloc(0);
    readHeader = (buffer) => {
      // The header is decrypted byte-exactly so the same CFB stream can continue into a cfb body.
      let need = checkResponseHeader(plainHead, header.responseAuth) ?? 4;
      while (plainHead.length < need) {
        if (buffer.length < need) return undefined;
        plainHead = Buffer.concat([plainHead, decipher.update(buffer.subarray(plainHead.length, need))]);
        need = checkResponseHeader(plainHead, header.responseAuth) ?? 4;
      }
      return need;
    };
  } else {
    readHeader = (buffer) => {
      const opened = openAeadResponse(response.key, response.iv, buffer);
      if (!opened) return undefined;
      checkResponseHeader(opened.value, header.responseAuth);
      return opened.length;
    };
  }
  return {
    prefix,
    writer: new BodyWriter({ ...base, ...request }),
    reader: new BodyReader(responseSpec),
    readHeader,
    packets,
  };
}
