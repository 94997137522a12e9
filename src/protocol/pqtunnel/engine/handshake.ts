/**
 * The PQT v1 hybrid handshake (spec §4): Noise IKpsk2 over X25519 with an ephemeral
 * ML-KEM-768 exchange mixed into the chaining key, HKDF-SHA256 and ChaCha20-Poly1305.
 * Pure functions of their inputs (randomness can be injected for golden vectors).
 */
import { randomBytes } from 'node:crypto';
import { MessageSize, MessageType, header, indexBytes } from '../wire/messages.js';
import { mlkemDecapsulate, mlkemEncapsulate, mlkemKeygen } from '../crypto/mlkem.js';
import {
  construction,
  dh,
  hash,
  identifier,
  kdf,
  labelMac1,
  mac,
  macEquals,
  open,
  seal,
  tai64n,
  x25519Generate,
  type X25519Pair,
} from '../crypto/primitives.js';

/** Bytes of the encrypted session parameters in a response (spec §8.2). */
export const paramsSize = 32;

/** What both sides derive once per gateway key: the transcript start and the mac1 key. */
export interface GatewayConstants {
  /** The gateway's static public key. */
  publicKey: Buffer;
  /** C after step 1. */
  chainingKey: Buffer;
  /** H after step 1. */
  transcript: Buffer;
  /** HASH(LABEL_MAC1 || Sg.pub): keys the initiation's mac1. */
  mac1Key: Buffer;
}

/** Step 1 of §4.2 for one gateway key. */
export function gatewayConstants(gatewayPublic: Buffer): GatewayConstants {
  const chainingKey = hash(construction);
  const transcript = hash(hash(chainingKey, identifier), gatewayPublic);
  return { publicKey: gatewayPublic, chainingKey, transcript, mac1Key: hash(labelMac1, gatewayPublic) };
}

/** HASH(LABEL_MAC1 || Sc.pub): keys the response's mac1. */
export function clientMac1Key(clientPublic: Buffer): Buffer {
  return hash(labelMac1, clientPublic);
}

/** Randomness of one initiation, injectable for golden vectors. */
export interface InitiationRandomness {
  /** X25519 ephemeral. */
  ephemeral?: X25519Pair;
  /** 64-byte ML-KEM key generation seed. */
  kemSeed?: Uint8Array;
}

/** What the client keeps between sending an initiation and receiving its response. */
export interface PendingInitiation {
  /** Local index the gateway will answer to. */
  senderIndex: number;
  /** C after step 8. */
  chainingKey: Buffer;
  /** H after step 8. */
  transcript: Buffer;
  /** Ec. */
  ephemeral: X25519Pair;
  /** ML-KEM decapsulation key. */
  decapsulationKey: Uint8Array;
  /** The mac1 sent (the AD of a cookie reply). */
  mac1: Buffer;
}

/** The client's static key and its cached static-static secret with one gateway key. */
export interface ClientIdentity {
  /** Sc. */
  staticKey: X25519Pair;
  /** The pinned gateway key's constants. */
  gateway: GatewayConstants;
  /** DH(Sc.priv, Sg.pub), cached. */
  staticShared: Buffer;
  /** 32-byte PSKs to try, in order (zeros when none); two during a PSK change (spec §6.6). */
  psks: readonly Buffer[];
}

/** Builds the client's identity for a pinned gateway key; throws when the key is a low-order point. */
export function clientIdentity(staticKey: X25519Pair, gatewayPublic: Buffer, psks: readonly Buffer[] = [Buffer.alloc(32)]): ClientIdentity {
  const staticShared = dh(staticKey.privateKey, gatewayPublic);
  if (!staticShared) throw new Error('the gateway public key is not a usable X25519 key');
  return { staticKey, gateway: gatewayConstants(gatewayPublic), staticShared, psks: psks.length > 0 ? psks : [Buffer.alloc(32)] };
}

/** Steps 2–9 of §4.2: a 1332-byte initiation and the state to finish the handshake with. */
export function createInitiation(
  client: ClientIdentity,
  senderIndex: number,
  unixMs: number,
  cookie?: Buffer,
  random: InitiationRandomness = {},
): { message: Buffer; pending: PendingInitiation } {
  const ephemeral = random.ephemeral ?? x25519Generate();
  const kem = mlkemKeygen(random.kemSeed ?? randomBytes(64));
  const { gateway } = client;
  let [chainingKey] = kdf(1, gateway.chainingKey, ephemeral.publicKey) as [Buffer];
  let transcript = hash(gateway.transcript, ephemeral.publicKey);
  transcript = hash(transcript, kem.publicKey);
  const es = dh(ephemeral.privateKey, gateway.publicKey)!;
  let key: Buffer;
  [chainingKey, key] = kdf(2, chainingKey, es) as [Buffer, Buffer];
  const encStatic = seal(key, 0, client.staticKey.publicKey, transcript);
  transcript = hash(transcript, encStatic);
  [chainingKey, key] = kdf(2, chainingKey, client.staticShared) as [Buffer, Buffer];
  const encTimestamp = seal(key, 0, tai64n(unixMs), transcript);
  transcript = hash(transcript, encTimestamp);
  const body = Buffer.concat([header(MessageType.initiation), indexBytes(senderIndex), ephemeral.publicKey, kem.publicKey, encStatic, encTimestamp]);
  const mac1 = mac(gateway.mac1Key, body);
  const mac2 = cookie ? mac(cookie, Buffer.concat([body, mac1])) : Buffer.alloc(16);
  return {
    message: Buffer.concat([body, mac1, mac2]),
    pending: { senderIndex, chainingKey, transcript, ephemeral, decapsulationKey: kem.secretKey, mac1 },
  };
}

/** mac1 of an initiation (step 2 of §5.1); cheap, constant-time. */
export function initiationMac1Valid(message: Buffer, gateway: GatewayConstants): boolean {
  return macEquals(mac(gateway.mac1Key, message.subarray(0, 1300)), message.subarray(1300, 1316));
}

/** mac2 of an initiation against a cookie (step 3 of §5.1). */
export function initiationMac2Valid(message: Buffer, cookie: Buffer): boolean {
  return macEquals(mac(cookie, message.subarray(0, 1316)), message.subarray(1316, 1332));
}

/** What the gateway learned from an authenticated initiation. */
export interface AcceptedInitiation {
  /** The client's static public key (look the peer up with it). */
  clientPublic: Buffer;
  /** The client's index for the new session. */
  senderIndex: number;
  /** The decrypted TAI64N timestamp (12 bytes, compare as bytes). */
  timestamp: Buffer;
  /** C after step 8. */
  chainingKey: Buffer;
  /** H after step 8. */
  transcript: Buffer;
  /** Ec.pub. */
  clientEphemeral: Buffer;
  /** The client's ML-KEM encapsulation key. */
  encapsulationKey: Buffer;
}

/**
 * Steps 4–5 of §5.1 (mac1 already checked): decrypts the client's static key, asks
 * `staticSharedFor` for the cached DH(Sg, Sc) of a known peer (undefined: unknown client),
 * then decrypts the timestamp. Undefined on any failure.
 */
export function consumeInitiation(
  message: Buffer,
  gatewayKey: X25519Pair,
  gateway: GatewayConstants,
  staticSharedFor: (clientPublic: Buffer) => Buffer | undefined,
): AcceptedInitiation | undefined {
  const senderIndex = message.readUInt32LE(4);
  const clientEphemeral = message.subarray(8, 40);
  const encapsulationKey = message.subarray(40, 1224);
  let [chainingKey] = kdf(1, gateway.chainingKey, clientEphemeral) as [Buffer];
  let transcript = hash(gateway.transcript, clientEphemeral);
  transcript = hash(transcript, encapsulationKey);
  const es = dh(gatewayKey.privateKey, clientEphemeral);
  if (!es) return undefined;
  let key: Buffer;
  [chainingKey, key] = kdf(2, chainingKey, es) as [Buffer, Buffer];
  const encStatic = message.subarray(1224, 1272);
  const clientPublic = open(key, 0, encStatic, transcript);
  if (!clientPublic) return undefined;
  transcript = hash(transcript, encStatic);
  const staticShared = staticSharedFor(clientPublic);
  if (!staticShared) return undefined;
  [chainingKey, key] = kdf(2, chainingKey, staticShared) as [Buffer, Buffer];
  const encTimestamp = message.subarray(1272, 1300);
  const timestamp = open(key, 0, encTimestamp, transcript);
  if (!timestamp) return undefined;
  transcript = hash(transcript, encTimestamp);
  return { clientPublic, senderIndex, timestamp, chainingKey, transcript, clientEphemeral, encapsulationKey };
}

/** Session keys of a finished handshake (step 18). */
export interface TransportKeys {
  /** T_c2g. */
  clientToGateway: Buffer;
  /** T_g2c. */
  gatewayToClient: Buffer;
}

/** Randomness of one response, injectable for golden vectors. */
export interface ResponseRandomness {
  /** X25519 ephemeral. */
  ephemeral?: X25519Pair;
  /** 32-byte ML-KEM encapsulation randomness. */
  kemRandomness?: Uint8Array;
}

/**
 * Steps 10–18: the 1212-byte response and the transport keys. Undefined when the client's
 * ephemeral or encapsulation key is unusable (low-order point, ML-KEM modulus check).
 */
export function createResponse(
  accepted: AcceptedInitiation,
  senderIndex: number,
  psk: Buffer,
  params: Buffer,
  random: ResponseRandomness = {},
): { message: Buffer; keys: TransportKeys } | undefined {
  if (params.length !== paramsSize) throw new Error(`params are ${paramsSize} bytes`);
  const ephemeral = random.ephemeral ?? x25519Generate();
  let [chainingKey] = kdf(1, accepted.chainingKey, ephemeral.publicKey) as [Buffer];
  let transcript = hash(accepted.transcript, ephemeral.publicKey);
  const ee = dh(ephemeral.privateKey, accepted.clientEphemeral);
  const se = dh(ephemeral.privateKey, accepted.clientPublic);
  if (!ee || !se) return undefined;
  [chainingKey] = kdf(1, chainingKey, ee) as [Buffer];
  [chainingKey] = kdf(1, chainingKey, se) as [Buffer];
  const kem = mlkemEncapsulate(accepted.encapsulationKey, random.kemRandomness ?? randomBytes(32));
  if (!kem) return undefined;
  transcript = hash(transcript, kem.cipherText);
  [chainingKey] = kdf(1, chainingKey, kem.sharedSecret) as [Buffer];
  let tau: Buffer;
  let key: Buffer;
  [chainingKey, tau, key] = kdf(3, chainingKey, psk) as [Buffer, Buffer, Buffer];
  transcript = hash(transcript, tau);
  const encParams = seal(key, 0, params, transcript);
  transcript = hash(transcript, encParams);
  const body = Buffer.concat([
    header(MessageType.response),
    indexBytes(senderIndex),
    indexBytes(accepted.senderIndex),
    ephemeral.publicKey,
    kem.cipherText,
    encParams,
  ]);
  const message = Buffer.concat([body, mac(clientMac1Key(accepted.clientPublic), body), Buffer.alloc(16)]);
  const [clientToGateway, gatewayToClient] = kdf(2, chainingKey, transcript) as [Buffer, Buffer];
  wipe(chainingKey, tau, key, kem.sharedSecret);
  return { message, keys: { clientToGateway, gatewayToClient } };
}

/** The gateway's index and the session, from a verified response. */
export interface CompletedHandshake {
  /** The gateway's index for the session (the receiver index of our data messages). */
  gatewayIndex: number;
  /** Decrypted session parameters (32 bytes). */
  params: Buffer;
  /** Transport keys. */
  keys: TransportKeys;
}

/** §5.2: verifies a response to `pending` (mac1, the two DHs, ML-KEM, the tag). Undefined on any failure. */
export function consumeResponse(message: Buffer, pending: PendingInitiation, client: ClientIdentity, mac1Key: Buffer): CompletedHandshake | undefined {
  if (message.length !== MessageSize.response || message.readUInt32LE(8) !== pending.senderIndex) return undefined;
  if (!macEquals(mac(mac1Key, message.subarray(0, 1180)), message.subarray(1180, 1196))) return undefined;
  const gatewayEphemeral = message.subarray(12, 44);
  const cipherText = message.subarray(44, 1132);
  let [chainingKey] = kdf(1, pending.chainingKey, gatewayEphemeral) as [Buffer];
  let transcript = hash(pending.transcript, gatewayEphemeral);
  const ee = dh(pending.ephemeral.privateKey, gatewayEphemeral);
  const se = dh(client.staticKey.privateKey, gatewayEphemeral);
  if (!ee || !se) return undefined;
  [chainingKey] = kdf(1, chainingKey, ee) as [Buffer];
  [chainingKey] = kdf(1, chainingKey, se) as [Buffer];
  const sharedSecret = mlkemDecapsulate(cipherText, pending.decapsulationKey);
  transcript = hash(transcript, cipherText);
  [chainingKey] = kdf(1, chainingKey, sharedSecret) as [Buffer];
  const encParams = message.subarray(1132, 1180);
  // Step 15 with each PSK the client holds (one extra KDF3 and AEAD open during a PSK change).
  for (const psk of client.psks) {
    const [nextChainingKey, tau, key] = kdf(3, chainingKey, psk) as [Buffer, Buffer, Buffer];
    const withTau = hash(transcript, tau);
    const params = open(key, 0, encParams, withTau);
    wipe(tau, key);
    if (!params) continue;
    const [clientToGateway, gatewayToClient] = kdf(2, nextChainingKey, hash(withTau, encParams)) as [Buffer, Buffer];
    wipe(nextChainingKey, chainingKey, sharedSecret, pending.decapsulationKey);
    return { gatewayIndex: message.readUInt32LE(4), params, keys: { clientToGateway, gatewayToClient } };
  }
  wipe(chainingKey, sharedSecret);
  return undefined;
}

/** Step 19: overwrite secrets that are no longer needed. */
export function wipe(...secrets: Uint8Array[]): void {
  for (const secret of secrets) secret.fill(0);
}
