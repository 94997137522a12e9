/**
 * The tunnel client (initiator) engine: handshakes with retry and jitter, the keypair
 * rotation, queueing until a session exists, keepalives, dead-peer detection and rekeying
 * (spec §5.2, §5.3, §6). It talks to a Bind and hands decrypted IP packets to `onPacket`.
 */
import { randomInt } from 'node:crypto';
import { cookieReplyKey, openCookieReply } from '../wire/cookie.js';
import { clientIdentity, clientMac1Key, consumeResponse, createInitiation, type ClientIdentity, type PendingInitiation } from './handshake.js';
import { Keypair } from './keypair.js';
import { MessageType, messageType } from '../wire/messages.js';
import type { X25519Pair } from '../crypto/primitives.js';
import { systemClock, Timers, zeroCounters, type Bind, type Clock, type Endpoint, type HandshakeOutcome, type TunnelCounters } from './seams.js';
import { unpadPacket } from '../wire/transport.js';

/** Settings of a tunnel client. */
export interface TunnelClientOptions {
  /** The client's static key. */
  staticKey: X25519Pair;
  /**
   * The gateway's static public key (the pin), or several during a gateway key rotation:
   * they are tried in order, moving to the next one each time a handshake times out (spec §6.6).
   */
  gatewayPublic: Buffer | readonly Buffer[];
  /** Optional pre-shared key, or two during a PSK change (each is tried on a response). */
  psk?: Buffer | readonly Buffer[];
  /** Where the gateway listens (at start; `setEndpoint` moves it). */
  endpoint: Endpoint;
  /** UDP socket (or a fake). */
  bind: Bind;
  /** Timers and timestamps (injectable for tests). */
  clock?: Clock;
  /** Tunnel MTU for padding. */
  mtu?: number;
  /** Keepalive when nothing was sent for this long; 0 turns it off. Default 25 s. */
  persistentKeepaliveMs?: number;
  /** Receives each decrypted IP packet. */
  onPacket(packet: Buffer): void;
  /** Receives the session parameters of every completed handshake. */
  onParams?(params: Buffer): void;
  /** Told when the tunnel goes up (a handshake completed) or down (REKEY_ATTEMPT_TIME without one). */
  onState?(up: boolean): void;
  /** Told of every handshake attempt's outcome: answered, or timed out and retried. */
  onHandshake?(outcome: HandshakeOutcome): void;
}

const maxQueued = 64;
const tickMs = 100;

/** One client's tunnel to one gateway. */
export class TunnelClient {
  /** What this client has done since it started. */
  readonly counters: TunnelCounters = zeroCounters();
  /** One identity per pinned gateway key; `pin` says which one handshakes use now. */
  private readonly identities: { identity: ClientIdentity; replyKey: Buffer }[];
  private pin = 0;
  private readonly mac1Key: Buffer;
  private readonly clock: Clock;
  private readonly mtu: number;
  private readonly persistentKeepaliveMs: number;
  private current: Keypair | undefined;
  private previous: Keypair | undefined;
  private pending: PendingInitiation | undefined;
  /** When the pending initiation went out. */
  private pendingSentAt = 0;
  private retryAt = 0;
  private retryInterval: number = Timers.rekeyTimeout;
  private attemptStarted: number | undefined;
  private cookie: { value: Buffer; at: number } | undefined;
  private queue: Buffer[] = [];
  private lastSent = -Infinity;
  /** Last authenticated non-empty packet: a passive keepalive answers data, never a keepalive. */
  private lastReceivedData = -Infinity;
  private lastHandshake: number;
  /** When a data packet went out that no authenticated packet has answered yet (dead-peer detection). */
  private unansweredSince: number | undefined;
  private up = false;
  private endpoint: Endpoint;
  private readonly stopTicks: () => void;

  constructor(private readonly options: TunnelClientOptions) {
    this.clock = options.clock ?? systemClock;
    const pins = Buffer.isBuffer(options.gatewayPublic) ? [options.gatewayPublic] : [...options.gatewayPublic];
    const psks = options.psk === undefined ? undefined : Buffer.isBuffer(options.psk) ? [options.psk] : [...options.psk];
    if (pins.length === 0) throw new Error('a tunnel client needs at least one gateway public key');
    this.identities = pins.map((pin) => ({ identity: clientIdentity(options.staticKey, pin, psks), replyKey: cookieReplyKey(pin) }));
    this.mac1Key = clientMac1Key(options.staticKey.publicKey);
    this.mtu = options.mtu ?? 1420;
    this.persistentKeepaliveMs = options.persistentKeepaliveMs ?? 25_000;
    this.lastHandshake = this.clock.now();
    this.endpoint = options.endpoint;
    options.bind.onReceive((datagram) => this.receive(datagram));
    this.stopTicks = this.clock.every(tickMs, () => this.tick());
  }

  /** True while a usable session exists. */
  get isUp(): boolean {
    return this.up;
  }

  /** Sends one IP packet through the tunnel, queueing it (up to 64) while a handshake runs. */
  send(packet: Buffer): void {
    const now = this.clock.now();
    if (this.current?.canSend(now)) {
      this.transmit(this.current, packet, now);
      if (this.current.wantsRekeyOnSend(now)) this.handshake(now);
      return;
    }
    if (this.queue.length >= maxQueued) this.queue.shift();
    this.queue.push(packet);
    this.handshake(now);
  }

  /** Sends to another gateway address from now on (its name now resolves elsewhere). */
  setEndpoint(endpoint: Endpoint): void {
    this.endpoint = endpoint;
  }

  /** Starts a handshake now (at start-up, or after a network change). */
  connect(): void {
    this.pending = undefined;
    this.handshake(this.clock.now());
  }

  /** Stops the timers, wipes the keys, closes the bind. */
  close(): void {
    this.stopTicks();
    this.current?.wipe();
    this.previous?.wipe();
    this.current = this.previous = this.pending = undefined;
    this.options.bind.close();
  }

  private transmit(keypair: Keypair, packet: Buffer, now: number): void {
    const message = keypair.seal(packet, this.mtu);
    this.options.bind.send(message, this.endpoint);
    this.counters.packetsSent++;
    this.counters.bytesSent += message.length;
    this.lastSent = now;
    if (packet.length > 0) this.unansweredSince ??= now;
  }

  /** Sends a new initiation unless one is in flight and its retry time has not come. */
  private handshake(now: number, retry = false): void {
    if (this.pending && !retry) return;
    const cookie = this.cookie && now - this.cookie.at < Timers.cookieSecretLifetime - Timers.rekeyTimeout ? this.cookie.value : undefined;
    const { message, pending } = createInitiation(this.identities[this.pin]!.identity, this.freshIndex(), this.clock.wallMs(), cookie);
    this.pending = pending;
    this.pendingSentAt = now;
    this.attemptStarted ??= now;
    this.retryAt = now + this.retryInterval + randomInt(Timers.rekeyJitter + 1);
    this.options.bind.send(message, this.endpoint);
  }

  private freshIndex(): number {
    for (;;) {
      const index = randomInt(2 ** 32 - 1) + 1;
      if (index !== this.current?.localIndex && index !== this.previous?.localIndex) return index;
    }
  }

  private receive(datagram: Buffer): void {
    const type = messageType(datagram);
    const now = this.clock.now();
    if (type === MessageType.response) this.receiveResponse(datagram, now);
    else if (type === MessageType.cookieReply) this.receiveCookie(datagram, now);
    else if (type === MessageType.data) this.receiveData(datagram, now);
  }

  private receiveResponse(datagram: Buffer, now: number): void {
    const pending = this.pending;
    if (!pending) return;
    const done = consumeResponse(datagram, pending, this.identities[this.pin]!.identity, this.mac1Key);
    if (!done) return;
    this.pending = undefined;
    const rekey = this.current?.canSend(now) ?? false;
    this.options.onHandshake?.({ ok: true, ms: now - this.pendingSentAt, rekey });
    this.previous?.wipe();
    this.previous = this.current;
    this.current = new Keypair(pending.senderIndex, done.gatewayIndex, done.keys.clientToGateway, done.keys.gatewayToClient, now);
    this.attemptStarted = undefined;
    this.retryInterval = Timers.rekeyTimeout;
    this.lastHandshake = now;
    this.unansweredSince = undefined;
    this.options.onParams?.(done.params);
    this.setUp(true);
    const queued = this.queue;
    this.queue = [];
    if (queued.length === 0) this.transmit(this.current, Buffer.alloc(0), now);
    for (const packet of queued) this.transmit(this.current, packet, now);
  }

  private receiveCookie(datagram: Buffer, now: number): void {
    if (!this.pending || datagram.readUInt32LE(4) !== this.pending.senderIndex) return;
    const cookie = openCookieReply(this.identities[this.pin]!.replyKey, datagram, this.pending.mac1);
    if (!cookie) return;
    this.cookie = { value: cookie, at: now };
    this.counters.cookies++;
  }

  private receiveData(datagram: Buffer, now: number): void {
    const index = datagram.readUInt32LE(4);
    const keypair = [this.current, this.previous].find((k) => k?.localIndex === index);
    const plain = keypair?.open(datagram, now);
    if (!keypair || !plain) {
      this.counters.packetsRejected++;
      return;
    }
    this.counters.packetsReceived++;
    this.counters.bytesReceived += datagram.length;
    this.unansweredSince = undefined;
    if (keypair === this.current && keypair.age(now) >= Timers.rejectAfterTime - Timers.keepaliveTimeout - Timers.rekeyTimeout) {
      this.handshake(now);
    }
    if (plain.length === 0) return;
    this.lastReceivedData = now;
    const packet = unpadPacket(plain);
    if (packet) this.options.onPacket(packet);
  }

  private tick(): void {
    const now = this.clock.now();
    if (this.pending && now >= this.retryAt) {
      this.options.onHandshake?.({ ok: false, ms: now - this.pendingSentAt, rekey: false });
      if (this.attemptStarted !== undefined && now - this.attemptStarted >= Timers.rekeyAttemptTime) {
        this.setUp(false);
        this.retryInterval = Math.min(this.retryInterval * 2, 60_000);
      }
      if (this.identities.length > 1) {
        // The pinned key did not answer: try the next one; its cookies are not ours.
        this.pin = (this.pin + 1) % this.identities.length;
        this.cookie = undefined;
      }
      this.handshake(now, true);
    }
    for (const slot of ['previous', 'current'] as const) {
      const keypair = this[slot];
      if (keypair && keypair.age(now) >= Timers.rejectAfterTime) {
        keypair.wipe();
        this[slot] = undefined;
      }
    }
    if (!this.current && this.up) this.setUp(false);
    if (this.unansweredSince !== undefined && now - this.unansweredSince >= Timers.keepaliveTimeout + Timers.rekeyTimeout) {
      this.unansweredSince = undefined;
      this.handshake(now);
    }
    const usable = this.current?.canSend(now) ? this.current : undefined;
    const passive = this.lastReceivedData > this.lastSent && now - this.lastReceivedData >= Timers.keepaliveTimeout;
    const persistent = this.persistentKeepaliveMs > 0 && now - this.lastSent >= this.persistentKeepaliveMs;
    if (passive || persistent) {
      if (usable) {
        this.transmit(usable, Buffer.alloc(0), now);
        if (usable.wantsRekeyOnSend(now)) this.handshake(now);
      } else if (persistent) this.handshake(now);
    }
    if (now - this.lastHandshake >= Timers.keyZeroizeTime && (this.current || this.previous)) {
      this.current?.wipe();
      this.previous?.wipe();
      this.current = this.previous = undefined;
    }
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.options.onState?.(up);
  }
}
