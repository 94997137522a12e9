import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clientIdentity,
  clientMac1Key,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  gatewayConstants,
  initiationMac1Valid,
  initiationMac2Valid,
} from '../../src/protocol/pqtunnel/engine/handshake.js';
import { cookieFor, cookieReplyKey, openCookieReply, sealCookieReply } from '../../src/protocol/pqtunnel/wire/cookie.js';
import { messageType } from '../../src/protocol/pqtunnel/wire/messages.js';
import { dh, x25519FromPrivate } from '../../src/protocol/pqtunnel/crypto/primitives.js';
import { dataCounter, openData, sealData, unpadPacket } from '../../src/protocol/pqtunnel/wire/transport.js';

const fill = (n: number, byte: number): Buffer => Buffer.alloc(n, byte);
const clientStatic = x25519FromPrivate(fill(32, 0x11));
const gatewayStatic = x25519FromPrivate(fill(32, 0x22));
const psk = fill(32, 0x33);
const fixed = {
  initiation: { ephemeral: x25519FromPrivate(fill(32, 0x44)), kemSeed: fill(64, 0x55) },
  response: { ephemeral: x25519FromPrivate(fill(32, 0x66)), kemRandomness: fill(32, 0x77) },
  time: 1_700_000_000_000,
  clientIndex: 0x01020304,
  gatewayIndex: 0x0a0b0c0d,
  params: Buffer.from('0103800005ac0019' + '0a420002' + '00'.repeat(16) + '00000000', 'hex'),
};

function handshake(options: { clientPsk?: Buffer; gatewayPsk?: Buffer; pinned?: Buffer } = {}) {
  const client = clientIdentity(clientStatic, options.pinned ?? gatewayStatic.publicKey, [options.clientPsk ?? psk]);
  const gateway = gatewayConstants(gatewayStatic.publicKey);
  const { message: initiation, pending } = createInitiation(client, fixed.clientIndex, fixed.time, undefined, fixed.initiation);
  const staticShared = (pub: Buffer) => (pub.equals(clientStatic.publicKey) ? dh(gatewayStatic.privateKey, pub) : undefined);
  return { client, gateway, initiation, pending, staticShared, gatewayPsk: options.gatewayPsk ?? psk };
}

describe('PQT handshake', () => {
  it('completes: exact sizes, both sides derive the same transport keys, params arrive', () => {
    const h = handshake();
    expect(h.initiation.length).toBe(1332);
    expect(messageType(h.initiation)).toBe(1);
    expect(initiationMac1Valid(h.initiation, h.gateway)).toBe(true);
    const accepted = consumeInitiation(h.initiation, gatewayStatic, h.gateway, h.staticShared)!;
    expect(accepted.clientPublic).toEqual(clientStatic.publicKey);
    expect(accepted.senderIndex).toBe(fixed.clientIndex);
    const response = createResponse(accepted, fixed.gatewayIndex, h.gatewayPsk, fixed.params, fixed.response)!;
    expect(response.message.length).toBe(1212);
    expect(messageType(response.message)).toBe(2);
    const done = consumeResponse(response.message, h.pending, h.client, clientMac1Key(clientStatic.publicKey))!;
    expect(done.gatewayIndex).toBe(fixed.gatewayIndex);
    expect(done.params).toEqual(fixed.params);
    expect(done.keys).toEqual(response.keys);
    // Step 19: the ML-KEM decapsulation key is gone once the handshake is done (PQ forward secrecy).
    expect(h.pending.decapsulationKey.every((byte) => byte === 0)).toBe(true);
  });

  it('matches an independent straight-line implementation of §4 on @noble (golden bytes)', () => {
    const h = handshake();
    const accepted = consumeInitiation(h.initiation, gatewayStatic, h.gateway, h.staticShared)!;
    const response = createResponse(accepted, fixed.gatewayIndex, psk, fixed.params, fixed.response)!;
    const reference = referenceHandshake();
    expect(h.initiation.toString('hex')).toBe(reference.initiation.toString('hex'));
    expect(response.message.toString('hex')).toBe(reference.response.toString('hex'));
    expect(response.keys.clientToGateway.toString('hex')).toBe(reference.c2g.toString('hex'));
    expect(response.keys.gatewayToClient.toString('hex')).toBe(reference.g2c.toString('hex'));
  });

  it('drops a flipped bit anywhere in bytes 0..1315 of an initiation (header check, mac1 or authentication fails)', () => {
    const h = handshake();
    for (let i = 0; i < 1316; i++) {
      const flipped = Buffer.from(h.initiation);
      flipped[i]! ^= 1 << i % 8;
      const passes =
        messageType(flipped) === 1 &&
        initiationMac1Valid(flipped, h.gateway) &&
        consumeInitiation(flipped, gatewayStatic, h.gateway, h.staticShared) !== undefined;
      expect(passes, `byte ${i}`).toBe(false);
    }
    // Even with a forged mac1, a change in the authenticated part fails decryption.
    const forged = Buffer.from(h.initiation);
    forged[1230]! ^= 1;
    expect(consumeInitiation(forged, gatewayStatic, h.gateway, h.staticShared)).toBeUndefined();
  });

  it('the client rejects a tampered response, a PSK mismatch, and a response for another initiation', () => {
    const h = handshake();
    const accepted = consumeInitiation(h.initiation, gatewayStatic, h.gateway, h.staticShared)!;
    const { message } = createResponse(accepted, fixed.gatewayIndex, psk, fixed.params, fixed.response)!;
    const mac1Key = clientMac1Key(clientStatic.publicKey);
    for (let i = 0; i < 1196; i += 5) {
      const flipped = Buffer.from(message);
      flipped[i]! ^= 0x80;
      expect(consumeResponse(flipped, h.pending, h.client, mac1Key), `byte ${i}`).toBeUndefined();
    }
    const mismatch = handshake({ gatewayPsk: fill(32, 0x34) });
    const other = consumeInitiation(mismatch.initiation, gatewayStatic, mismatch.gateway, mismatch.staticShared)!;
    const wrongPsk = createResponse(other, 1, mismatch.gatewayPsk, fixed.params)!;
    expect(consumeResponse(wrongPsk.message, mismatch.pending, mismatch.client, mac1Key)).toBeUndefined();
    const second = createInitiation(h.client, fixed.clientIndex + 1, fixed.time);
    expect(consumeResponse(message, second.pending, h.client, mac1Key)).toBeUndefined();
  });

  it('gives silence to a client pinned to another gateway key, to an unknown client, to a bad ML-KEM key', () => {
    const wrongPin = handshake({ pinned: x25519FromPrivate(fill(32, 0x99)).publicKey });
    expect(initiationMac1Valid(wrongPin.initiation, wrongPin.gateway)).toBe(false);
    expect(consumeInitiation(wrongPin.initiation, gatewayStatic, wrongPin.gateway, wrongPin.staticShared)).toBeUndefined();
    const h = handshake();
    expect(consumeInitiation(h.initiation, gatewayStatic, h.gateway, () => undefined)).toBeUndefined();
    const accepted = consumeInitiation(h.initiation, gatewayStatic, h.gateway, h.staticShared)!;
    const badKey = Buffer.from(accepted.encapsulationKey);
    badKey.fill(0xff, 0, 384); // coefficients above the modulus fail FIPS 203's check
    expect(createResponse({ ...accepted, encapsulationKey: badKey }, 1, psk, fixed.params)).toBeUndefined();
    expect(createResponse({ ...accepted, clientEphemeral: Buffer.alloc(32) }, 1, psk, fixed.params)).toBeUndefined();
  });

  it('verifies mac2 against a cookie', () => {
    const client = clientIdentity(clientStatic, gatewayStatic.publicKey, [psk]);
    const cookie = fill(16, 0x5a);
    const { message } = createInitiation(client, 1, fixed.time, cookie);
    expect(initiationMac2Valid(message, cookie)).toBe(true);
    expect(initiationMac2Valid(message, fill(16, 0x5b))).toBe(false);
  });
});

describe('PQT transport data', () => {
  const key = fill(32, 0x42);
  const ipv4 = Buffer.concat([Buffer.from('4500001d000000004011', 'hex'), Buffer.alloc(19, 1)]);
  ipv4.writeUInt16BE(29, 2);

  it('seals an IP packet padded to 16 bytes within the MTU, and opens it', () => {
    const message = sealData(key, 9, 5, ipv4, 1420);
    expect(messageType(message)).toBe(4);
    expect(message.length).toBe(16 + 32 + 16);
    const { receiverIndex, counter } = dataCounter(message)!;
    expect([receiverIndex, counter]).toEqual([9, 5]);
    expect(unpadPacket(openData(key, message)!)).toEqual(ipv4);
    expect(sealData(key, 9, 6, ipv4, 30).length).toBe(16 + 30 + 16);
  });

  it('authenticates the header: a changed index, counter or reserved byte fails', () => {
    const message = sealData(key, 9, 5, ipv4, 1420);
    for (const at of [2, 4, 8, 20, message.length - 1]) {
      const flipped = Buffer.from(message);
      flipped[at]! ^= 1;
      const parsed = dataCounter(flipped);
      expect(parsed && messageType(flipped) === 4 ? openData(key, flipped) : undefined).toBeUndefined();
    }
  });

  it('matches a straight-line ChaCha20-Poly1305 (@noble/ciphers) for any packet, counter and MTU, one message after another', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), fc.nat(2 ** 40), fc.integer({ min: 1280, max: 1500 }), (packet, counter, mtu) => {
        const message = sealData(key, 7, counter, Buffer.from(packet), mtu);
        const padded = Math.max(packet.length, Math.min(mtu, Math.ceil(packet.length / 16) * 16));
        const nonce = Buffer.alloc(12);
        nonce.writeBigUInt64LE(BigInt(counter), 4);
        const plaintext = Buffer.concat([packet, Buffer.alloc(padded - packet.length)]);
        const expected = chacha20poly1305(key, nonce, message.subarray(0, 16)).encrypt(plaintext);
        expect(message.subarray(16)).toEqual(Buffer.from(expected));
        expect(dataCounter(message)!.counter).toBe(counter);
        expect(openData(key, message)).toEqual(plaintext);
      }),
      { numRuns: 300 },
    );
  });

  it('opens in place, and a flipped bit anywhere after the header leaves only zeros behind, never plaintext', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 1500 }), fc.nat(), (packet, flip) => {
        const original = Buffer.from(packet);
        const message = sealData(key, 3, 11, original, 1500);
        expect(original).toEqual(Buffer.from(packet));
        const tampered = Buffer.from(message);
        const at = 16 + (flip % (message.length - 16));
        tampered[at]! ^= 1 << flip % 8;
        expect(openData(key, tampered)).toBeUndefined();
        expect(tampered.subarray(16, tampered.length - 16).every((byte) => byte === 0)).toBe(true);
        const opened = openData(key, message)!;
        expect(opened.buffer).toBe(message.buffer);
        expect(opened.subarray(0, packet.length)).toEqual(original);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses keys that are not 32 bytes and messages too short to hold a tag', () => {
    expect(() => sealData(Buffer.alloc(16), 1, 0, ipv4, 1420)).toThrow(/32-byte key/);
    expect(openData(Buffer.alloc(31), sealData(key, 1, 0, ipv4, 1420))).toBeUndefined();
    expect(openData(key, Buffer.alloc(31))).toBeUndefined();
  });

  it('treats an empty plaintext as a keepalive and rejects inconsistent IP lengths', () => {
    const keepalive = sealData(key, 1, 0, Buffer.alloc(0), 1420);
    expect(keepalive.length).toBe(32);
    expect(openData(key, keepalive)).toEqual(Buffer.alloc(0));
    const lying = Buffer.from(ipv4);
    lying.writeUInt16BE(200, 2);
    expect(unpadPacket(lying)).toBeUndefined();
    expect(dataCounter(Buffer.concat([Buffer.from('04010000', 'hex'), Buffer.alloc(4), Buffer.from('0000000000002000', 'hex'), Buffer.alloc(16)]))).toBeUndefined();
  });
});

/** §4 written out once more, line by line, on @noble primitives only. */
function referenceHandshake() {
  const cat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);
  const H = (...parts: Uint8Array[]): Buffer => Buffer.from(sha256(cat(...parts)));
  const KDF = (n: number, ck: Uint8Array, ikm: Uint8Array): Buffer[] => {
    const out = Buffer.from(hkdf(sha256, ikm, ck, new Uint8Array(0), 32 * n));
    return Array.from({ length: n }, (_, i) => out.subarray(32 * i, 32 * i + 32));
  };
  const AEAD = (k: Uint8Array, pt: Uint8Array, ad: Uint8Array): Buffer => Buffer.from(chacha20poly1305(k, new Uint8Array(12), ad).encrypt(pt));
  const MAC = (k: Uint8Array, data: Uint8Array): Buffer => Buffer.from(hmac(sha256, k, data)).subarray(0, 16);
  const le32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const Sc = { priv: fill(32, 0x11), pub: Buffer.from(x25519.getPublicKey(fill(32, 0x11))) };
  const Sg = { priv: fill(32, 0x22), pub: Buffer.from(x25519.getPublicKey(fill(32, 0x22))) };
  const Ec = { priv: fill(32, 0x44), pub: Buffer.from(x25519.getPublicKey(fill(32, 0x44))) };
  const Eg = { priv: fill(32, 0x66), pub: Buffer.from(x25519.getPublicKey(fill(32, 0x66))) };
  const kem = ml_kem768.keygen(fill(64, 0x55));
  let C = H(Buffer.from('PQT1_Noise_IKpsk2hfs_25519+MLKEM768_ChaChaPoly_SHA256'));
  let Hh = H(C, Buffer.from('pqt v1 hybrid udp tunnel'));
  Hh = H(Hh, Sg.pub);
  [C] = KDF(1, C, Ec.pub) as [Buffer];
  Hh = H(Hh, Ec.pub);
  Hh = H(Hh, kem.publicKey);
  let k: Buffer;
  [C, k] = KDF(2, C, x25519.getSharedSecret(Ec.priv, Sg.pub)) as [Buffer, Buffer];
  const encStatic = AEAD(k, Sc.pub, Hh);
  Hh = H(Hh, encStatic);
  [C, k] = KDF(2, C, x25519.getSharedSecret(Sc.priv, Sg.pub)) as [Buffer, Buffer];
  const ts = Buffer.alloc(12);
  ts.writeBigUInt64BE(2n ** 62n + BigInt(fixed.time / 1000));
  const encTimestamp = AEAD(k, ts, Hh);
  Hh = H(Hh, encTimestamp);
  const initBody = cat(Buffer.from([1, 1, 0, 0]), le32(fixed.clientIndex), Ec.pub, kem.publicKey, encStatic, encTimestamp);
  const initiation = cat(initBody, MAC(H(Buffer.from('mac1----'), Sg.pub), initBody), Buffer.alloc(16));
  [C] = KDF(1, C, Eg.pub) as [Buffer];
  Hh = H(Hh, Eg.pub);
  [C] = KDF(1, C, x25519.getSharedSecret(Eg.priv, Ec.pub)) as [Buffer];
  [C] = KDF(1, C, x25519.getSharedSecret(Eg.priv, Sc.pub)) as [Buffer];
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(kem.publicKey, fill(32, 0x77));
  Hh = H(Hh, cipherText);
  [C] = KDF(1, C, sharedSecret) as [Buffer];
  let tau: Buffer;
  [C, tau, k] = KDF(3, C, psk) as [Buffer, Buffer, Buffer];
  Hh = H(Hh, tau);
  const encParams = AEAD(k, fixed.params, Hh);
  Hh = H(Hh, encParams);
  const respBody = cat(Buffer.from([2, 1, 0, 0]), le32(fixed.gatewayIndex), le32(fixed.clientIndex), Eg.pub, cipherText, encParams);
  const response = cat(respBody, MAC(H(Buffer.from('mac1----'), Sc.pub), respBody), Buffer.alloc(16));
  const [c2g, g2c] = KDF(2, C, Hh) as [Buffer, Buffer];
  return { initiation, response, c2g, g2c };
}

describe('PQT cookie replies', () => {
  it('carry the cookie for the initiation they answer, and open only with its mac1', () => {
    const secret = fill(32, 0x21);
    const cookie = cookieFor(secret, '192.0.2.7', 51820);
    expect(cookie).toHaveLength(16);
    expect(cookieFor(secret, '192.0.2.7', 51821)).not.toEqual(cookie);
    expect(cookieFor(secret, '::ffff:192.0.2.7', 51820)).not.toEqual(cookie);
    const replyKey = cookieReplyKey(gatewayStatic.publicKey);
    const h = handshake();
    const reply = sealCookieReply(replyKey, fixed.clientIndex, h.pending.mac1, cookie);
    expect(reply).toHaveLength(64);
    expect(messageType(reply)).toBe(3);
    expect(openCookieReply(replyKey, reply, h.pending.mac1)).toEqual(cookie);
    expect(openCookieReply(replyKey, reply, fill(16, 0))).toBeUndefined();
    // The client answers with an initiation whose mac2 is valid for that cookie.
    const next = createInitiation(h.client, fixed.clientIndex + 1, fixed.time + 5000, cookie);
    expect(initiationMac2Valid(next.message, cookie)).toBe(true);
  });
});
