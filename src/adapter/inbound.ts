import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Address } from '../common/address.js';
import type { DialFailure, RepliedFailure } from '../common/errors.js';
import type { PacketConn } from './outbound.js';

/** A listening protocol endpoint (SOCKS5, HTTP, mixed, VMess, a tunnel gateway…). */
export interface Inbound {
  /** Listener name used by IN-NAME rules and logs. */
  readonly name: string;
  /** Listener type from the config (`socks`, `http`, `mixed`, `vmess`, `pqtunnel`). */
  readonly type: string;
  /** Binds and starts accepting; rejects if the port cannot be opened. */
  start(): Promise<void>;
  /** Stops accepting new clients; flows already open continue until the dispatcher ends them. */
  close(): Promise<void>;
  /** The bound address (useful with port 0). */
  address(): AddressInfo;
}

/**
 * The client side of a TCP flow, as an inbound protocol hands it to the dispatcher once its
 * handshake is parsed: the dispatcher routes, dials, then calls exactly one of `accept` or
 * `reject` (or, for REJECT-DROP and failures after an early accept, destroys the stream), and
 * relays `stream` with the remote end.
 */
export interface InboundConn {
  /** The client's byte stream after the handshake (a socket, or a protocol's decrypted stream). */
  readonly stream: Duplex;
  /** Bytes the client sent past the handshake, sent to the destination first (may be empty). */
  readonly head: Buffer;
  /** Sends the protocol's success reply (SOCKS REP 0, HTTP 200); `bound` is the outbound's local address when known. */
  accept(bound?: Address): void;
  /** Sends the protocol's error reply for `failure` (SOCKS REP, HTTP 4xx/5xx) and closes the stream. */
  reject(failure: RepliedFailure, error: Error): void;
}

/**
 * The client side of a UDP flow: datagrams between the client and one destination.
 * `onPacket` delivers the client's datagrams (with where they go), `send` carries replies
 * back (with where they came from), and `onClose` tells when the client side has ended.
 */
export interface InboundPacketConn extends PacketConn {
  /** The flow could not be opened: the protocol's way of saying so (nothing in SOCKS5, a close in VMess). */
  reject(failure: DialFailure, error: Error): void;
}
