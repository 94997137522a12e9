import { createHmac, randomInt } from 'node:crypto';
import type { Parsed } from '../../common/handshake-reader.js';
import {
  legacyResponseCipher,
  openAeadRequest,
  responseHeaderPlain,
  responseKeys,
  sealAeadResponse,
  VmessAuthError,
  VmessUnknownUserError,
  type OpenedRequest,
  type VmessUser,
} from './aead-header.js';
import { ReplayFilter } from './auth-id.js';
import { BodyWriter, type BodySpec } from './body.js';
import { BodyReader } from './body-reader.js';
import { LegacyAuthTable, openLegacyRequest } from './legacy-header.js';
import { Security, VmessError, type RequestHeader } from './request-header.js';
import type { VmessStreamOptions } from './stream.js';

/** A request the server accepted, with the header mode it came in. */
export interface AcceptedRequest<T> extends OpenedRequest<T> {
  /** True for the legacy (alterId > 0) header. */
  legacy: boolean;
}

/**
 * The server's view of its users: AEAD AuthID lookup, the legacy auth table, the replay
 * filters, and the drain budget that makes failed probes indistinguishable (spec §11).
 */
export class VmessServer<T> {
  private readonly authIds = new ReplayFilter(120_000);
  private readonly bodyKeys = new ReplayFilter(180_000);
  private readonly legacyTable: LegacyAuthTable<T> | undefined;
  private readonly drainBase: number;
  private readonly drainSpread: number;

  constructor(
    private readonly users: readonly VmessUser<T>[],
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    const legacyUsers = users.filter((u) => u.identity.alterIds.length > 0);
    this.legacyTable = legacyUsers.length > 0 ? new LegacyAuthTable(legacyUsers) : undefined;
    // Stable per configuration, like v2ray's seed from HMAC("VMESSBSKDF", uuid) of each user.
    const seed = createHmac('sha256', 'VMESSBSKDF');
    for (const user of users) seed.update(user.identity.uuid);
    const digest = seed.digest();
    this.drainBase = digest.readUInt32BE(0) % 3266;
    this.drainSpread = (digest.readUInt32BE(4) % 64) + 1;
  }

  /** How many bytes a failed handshake reads before the server closes (54..3382 in all). */
  drainBudget(): number {
    return 16 + 38 + this.drainBase + randomInt(this.drainSpread);
  }

  /**
   * Parses a request header of either mode. Undefined while bytes are missing. Throws
   * VmessAuthError (drain, then close) or VmessError (close).
   */
  open(buffer: Buffer): Parsed<AcceptedRequest<T>> | undefined {
    let parsed: Parsed<OpenedRequest<T>> | undefined;
    let legacy = false;
    try {
      parsed = openAeadRequest(buffer, this.users, this.now(), this.authIds);
    } catch (error) {
      if (!(error instanceof VmessUnknownUserError) || !this.legacyTable) throw error;
      legacy = true;
      parsed = openLegacyRequest(buffer, this.legacyTable, this.now());
    }
    if (!parsed) return undefined;
    const { header } = parsed.value;
    if (!this.bodyKeys.check(Buffer.concat([parsed.value.user.identity.uuid, header.key, header.iv]))) {
      if (legacy) throw new VmessAuthError('replayed request body key');
      throw new VmessError('replayed request body key');
    }
    return { value: { ...parsed.value, legacy }, length: parsed.length };
  }
}

/** The server side of one accepted connection: reader for the request body, writer and prefix for the response. */
export function serverSession(header: RequestHeader, legacy: boolean): Omit<VmessStreamOptions, 'socket'> {
  const request = { key: header.key, iv: header.iv };
  const packets = header.command === 2;
  const base = { security: header.security, options: header.options, request, packets };
  const response = responseKeys(header, legacy);
  const responseSpec: BodySpec = { ...base, ...response };
  let prefix: Buffer;
  if (legacy) {
    const cipher = legacyResponseCipher(response.key, response.iv);
    prefix = cipher.update(responseHeaderPlain(header.responseAuth));
    if (header.security === Security.legacyCfb) responseSpec.cfb = cipher;
  } else {
    prefix = sealAeadResponse(response.key, response.iv, responseHeaderPlain(header.responseAuth));
  }
  return { prefix, writer: new BodyWriter(responseSpec), reader: new BodyReader({ ...base, ...request }), packets };
}
