/**
 * The tunnel gateway (responder) engine (spec §5.1, §5.4, §6.3, §7): authenticates
 * initiations in the cheap-first order, answers with cookies under load, keeps up to three
 * keypairs per peer, follows roaming clients, and hands decrypted IP packets to `onPacket`.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { cookieFor, cookieReplyKey, sealCookieReply } from '../wire/cookie.js';
import {
  consumeInitiation,
  createResponse,
  gatewayConstants,
  initiationMac1Valid,
  initiationMac2Valid,
  type GatewayConstants,
} from './handshake.js';
import { Keypair } from './keypair.js';
import { MessageType, messageType } from '../wire/messages.js';
import { dh, tai64n, type X25519Pair } from '../crypto/primitives.js';
import { systemClock, Timers, zeroCounters, type Bind, type Clock, type Endpoint, type HandshakeOutcome, type TunnelCounters } from './seams.js';
import { RateWindow, SourceBuckets } from './load-limits.js';
import { unpadPacket } from '../wire/transport.js';

/** A client the gateway accepts. */
export interface GatewayPeerConfig {
  /** Name for logs. */
  name: string;
  /** The client's static public key, or two during a client key change (same peer, same lease; spec §6.6). */
  publicKey: Buffer | readonly Buffer[];
  /** Optional pre-shared key. */
  psk?: Buffer;
  /** The 32-byte session parameters to send it (address lease, MTU; spec §8.2). */
  params(): Buffer;
}

/** Settings of a gateway. */
export interface TunnelGatewayOptions {
  /** The gateway's identity. */
  staticKey: X25519Pair;
  /** During a key rotation: the next identity, also accepted (spec §6.6). */
  nextStaticKey?: X25519Pair;
  /** Authorised clients. */
  peers: readonly GatewayPeerConfig[];
  /** UDP socket (or a fake). */
  bind: Bind;
  /** Timers and timestamps (injectable for tests). */
  clock?: Clock;
  /** Tunnel MTU for padding. */
  mtu?: number;
  /** More initiations than this in one second put the gateway under load. Default 200. */
  underLoadRate?: number;
  /** Receives each decrypted IP packet with the peer it came from. */
  onPacket(peer: GatewayPeerConfig, packet: Buffer): void;
  /** Told of every initiation answered, and of every one refused although its mac1 was valid. */
  onHandshake?(outcome: HandshakeOutcome): void;
}

interface Identity {
  key: X25519Pair;
  constants: GatewayConstants;
  replyKey: Buffer;
}

interface PeerState {
  config: GatewayPeerConfig;
  /** DH(Sg, Sc) by base64 client key, for each identity in identity order. */
  staticShared: Map<string, Buffer[]>;
  lastTimestamp: Buffer;
  lastInitiation: number;
  endpoint: Endpoint | undefined;
  previous?: Keypair;
  current?: Keypair;
  next?: Keypair;
  lastSent: number;
  /** Last authenticated non-empty packet: a passive keepalive answers data, never a keepalive. */
  lastReceivedData: number;
}

const tickMs = 100;

/** One gateway: one UDP port, many clients. */
export class TunnelGateway {
  /** What this gateway has done since it started. */
  readonly counters: TunnelCounters = zeroCounters();
  private readonly identities: Identity[];
  /** Peers by base64 static public key (initiations) and by name (packets from the TUN side). */
  private readonly peers = new Map<string, PeerState>();
  private readonly peersByName = new Map<string, PeerState>();
  private readonly indexes = new Map<number, { peer: PeerState; keypair: Keypair }>();
  private readonly buckets = new SourceBuckets();
  private readonly clock: Clock;
  private readonly mtu: number;
  private cookieSecrets: Buffer[] = [randomBytes(32)];
  private cookieRotated: number;
  private readonly initiationRate = new RateWindow();
  private underLoadUntil = -Infinity;
  private readonly stopTicks: () => void;

  constructor(private readonly options: TunnelGatewayOptions) {
    this.clock = options.clock ?? systemClock;
    this.mtu = options.mtu ?? 1420;
    this.identities = [options.staticKey, ...(options.nextStaticKey ? [options.nextStaticKey] : [])].map((key) => ({
      key,
      constants: gatewayConstants(key.publicKey),
      replyKey: cookieReplyKey(key.publicKey),
    }));
    for (const config of options.peers) {
      const keys = Buffer.isBuffer(config.publicKey) ? [config.publicKey] : [...config.publicKey];
      const staticShared = new Map<string, Buffer[]>();
      for (const key of keys) {
        const shared = this.identities.map((identity) => dh(identity.key.privateKey, key));
        if (shared.some((s) => !s)) throw new Error(`peer ${config.name}: public key is not a usable X25519 key`);
        staticShared.set(key.toString('base64'), shared as Buffer[]);
      }
      const state: PeerState = {
        config,
        staticShared,
        lastTimestamp: Buffer.alloc(12),
        lastInitiation: -Infinity,
        endpoint: undefined,
        lastSent: -Infinity,
        lastReceivedData: -Infinity,
      };
      for (const key of staticShared.keys()) this.peers.set(key, state);
      this.peersByName.set(config.name, state);
    }
    this.cookieRotated = this.clock.now();
    options.bind.onReceive((datagram, from) => this.receive(datagram, from));
    this.stopTicks = this.clock.every(tickMs, () => this.tick());
  }

  /** Sends an IP packet to the named peer with its current keypair; false (dropped) when it has none. */
  send(peerName: string, packet: Buffer): boolean {
    const peer = this.peersByName.get(peerName);
    const now = this.clock.now();
    if (!peer?.current?.canSend(now) || !peer.endpoint) return false;
    this.transmit(peer, peer.current, packet, now);
    return true;
  }

  /** Clients with a session that can carry data now. */
  activeSessions(): number {
    const now = this.clock.now();
    let count = 0;
    for (const peer of this.peersByName.values()) if (peer.current?.canSend(now)) count++;
    return count;
  }

  /** The address a peer's last authenticated packet came from. */
  endpointOf(peerName: string): Endpoint | undefined {
    return this.peersByName.get(peerName)?.endpoint;
  }

  /** Forces the under-load state (tests, and operators who want cookies always). */
  setUnderLoad(untilMs: number): void {
    this.underLoadUntil = untilMs;
  }

  /** Stops the timers, wipes the keys, closes the bind. */
  close(): void {
    this.stopTicks();
    for (const { keypair } of this.indexes.values()) keypair.wipe();
    this.indexes.clear();
    this.options.bind.close();
  }

  private receive(datagram: Buffer, from: Endpoint): void {
    const type = messageType(datagram);
    if (type === MessageType.initiation) this.receiveInitiation(datagram, from);
    else if (type === MessageType.data) this.receiveData(datagram, from);
  }

  /**
   * WireGuard's order: mac1 first; only under load is a valid mac2 required (a cookie reply
   * otherwise, which only the real source address can use) and only then is the source
   * rate-limited. So initiations forged with a client's address, which never carry its
   * cookie, cannot use up that client's allowance. (Spec §5.1 step 3 applied the per-source
   * bucket always and to cookie replies too; that is what let such forgeries lock a client out.)
   */
  private receiveInitiation(message: Buffer, from: Endpoint): void {
    const now = this.clock.now();
    const identityIndex = this.identities.findIndex((identity) => initiationMac1Valid(message, identity.constants));
    if (identityIndex < 0) return;
    const identity = this.identities[identityIndex]!;
    if (this.initiationRate.add(now) > (this.options.underLoadRate ?? 200)) this.underLoadUntil = now + 1000;
    if (now < this.underLoadUntil) {
      const valid = this.cookieSecrets.some((secret) => initiationMac2Valid(message, cookieFor(secret, from.host, from.port)));
      if (!valid) {
        const reply = sealCookieReply(identity.replyKey, message.readUInt32LE(4), message.subarray(1300, 1316), cookieFor(this.cookieSecrets[0]!, from.host, from.port));
        this.options.bind.send(reply, from);
        this.counters.cookies++;
        return;
      }
      if (!this.buckets.take(from.host, now)) return;
    }
    let peer: PeerState | undefined;
    const accepted = consumeInitiation(message, identity.key, identity.constants, (clientPublic) => {
      const key = clientPublic.toString('base64');
      peer = this.peers.get(key);
      return peer?.staticShared.get(key)?.[identityIndex];
    });
    if (!accepted || !peer) return this.refused(now, undefined);
    const notNewer = Buffer.compare(accepted.timestamp, peer.lastTimestamp) <= 0;
    const tooFarAhead = Buffer.compare(accepted.timestamp, tai64n(this.clock.wallMs() + Timers.maxFutureSkew)) > 0;
    if (notNewer || tooFarAhead || now - peer.lastInitiation < Timers.initiationFloodInterval) return this.refused(now, peer.config.name);
    peer.lastTimestamp = accepted.timestamp;
    peer.lastInitiation = now;
    const localIndex = this.freshIndex();
    const response = createResponse(accepted, localIndex, peer.config.psk ?? Buffer.alloc(32), peer.config.params());
    if (!response) return this.refused(now, peer.config.name);
    const rekey = peer.current?.canSend(now) ?? false;
    if (peer.next) this.forget(peer.next);
    peer.next = new Keypair(localIndex, accepted.senderIndex, response.keys.gatewayToClient, response.keys.clientToGateway, now);
    this.indexes.set(localIndex, { peer, keypair: peer.next });
    peer.endpoint = from;
    this.options.bind.send(response.message, from);
    this.options.onHandshake?.({ ok: true, ms: this.clock.now() - now, rekey, peer: peer.config.name });
  }

  private refused(started: number, peer: string | undefined): void {
    this.options.onHandshake?.({ ok: false, ms: this.clock.now() - started, rekey: false, peer });
  }

  private transmit(peer: PeerState, keypair: Keypair, packet: Buffer, now: number): void {
    const message = keypair.seal(packet, this.mtu);
    this.options.bind.send(message, peer.endpoint!);
    this.counters.packetsSent++;
    this.counters.bytesSent += message.length;
    peer.lastSent = now;
  }

  private receiveData(message: Buffer, from: Endpoint): void {
    const now = this.clock.now();
    const entry = this.indexes.get(message.readUInt32LE(4));
    const plain = entry?.keypair.open(message, now);
    if (!entry || !plain) {
      this.counters.packetsRejected++;
      return;
    }
    const { peer, keypair } = entry;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += message.length;
    if (keypair === peer.next) {
      if (peer.previous) this.forget(peer.previous);
      peer.previous = peer.current;
      peer.current = keypair;
      peer.next = undefined;
    }
    peer.endpoint = from;
    if (plain.length === 0) return;
    peer.lastReceivedData = now;
    const packet = unpadPacket(plain);
    if (packet) this.options.onPacket(peer.config, packet);
  }

  private freshIndex(): number {
    for (;;) {
      const index = randomInt(2 ** 32 - 1) + 1;
      if (!this.indexes.has(index)) return index;
    }
  }

  private forget(keypair: Keypair): void {
    this.indexes.delete(keypair.localIndex);
    keypair.wipe();
  }

  private tick(): void {
    const now = this.clock.now();
    if (now - this.cookieRotated >= Timers.cookieSecretLifetime) {
      this.cookieSecrets = [randomBytes(32), this.cookieSecrets[0]!];
      this.cookieRotated = now;
    }
    this.buckets.prune(now);
    for (const peer of this.peers.values()) {
      for (const slot of ['previous', 'current', 'next'] as const) {
        const keypair = peer[slot];
        if (keypair && keypair.age(now) >= Timers.rejectAfterTime) {
          this.forget(keypair);
          peer[slot] = undefined;
        }
      }
      const usable = peer.current?.canSend(now) ? peer.current : undefined;
      if (usable && peer.endpoint && peer.lastReceivedData > peer.lastSent && now - peer.lastReceivedData >= Timers.keepaliveTimeout) {
        this.transmit(peer, usable, Buffer.alloc(0), now);
      }
    }
  }
}
