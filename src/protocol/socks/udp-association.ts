import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIPv4, type Socket } from 'node:net';
import type { InboundInfo } from '../../adapter/flow.js';
import type { InboundPacketConn } from '../../adapter/inbound.js';
import { formatAddress, normalizeHost, type Address } from '../../common/address.js';
import { IdleTimer } from '../../common/idle-timer.js';
import type { Dispatcher } from '../../dispatcher.js';
import { encodeDatagram, parseDatagram } from './codec.js';

/** Most destinations one association keeps open at once; datagrams to further ones are dropped. */
const maxDestinations = 1024;

/** What a UDP ASSOCIATE request sets up. */
export interface AssociationOptions {
  /** The TCP connection that carried the request; the association lives as long as it. */
  control: Socket;
  /** DST.ADDR/DST.PORT of the request: where the client will send from (zeros when unknown). */
  expectedClient: Address;
  /** The accepting listener. */
  inbound: InboundInfo;
  /** Authenticated user, if any. */
  user?: string;
  /** Opens, routes and closes the per-destination flows. */
  dispatcher: Dispatcher;
}

/** The client side of one destination's flow: the association's relay socket, seen from that flow. */
interface Destination extends InboundPacketConn {
  /** Hands a datagram from the client to the flow (queued until the flow's relay listens). */
  deliver(data: Buffer): void;
}

/** Most datagrams held for a destination while its outbound is being opened. */
const maxQueued = 64;

/**
 * One SOCKS5 UDP association (RFC 1928 §7): a relay socket for one client, one flow per
 * destination, ended by the control connection closing or by the idle timeout.
 */
export class UdpAssociation {
  /** Resolves when the association has ended and everything is released. */
  readonly closed: Promise<void>;
  private readonly destinations = new Map<string, Destination>();
  private client: Address | undefined;
  private readonly idle: IdleTimer;
  private ended = false;
  private markClosed!: () => void;

  private constructor(
    private readonly socket: UdpSocket,
    private readonly options: AssociationOptions,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    const { udpIdleMs } = options.dispatcher.timeouts;
    this.idle = new IdleTimer(udpIdleMs, () => this.end());
    socket.on('message', (packet, remote) => this.fromClient(packet, remote));
    socket.on('error', () => this.end());
    options.control.on('close', () => this.end());
    options.control.on('end', () => this.end());
    options.control.resume();
    options.dispatcher.stopping.addEventListener('abort', this.end, { once: true });
  }

  /** Binds the relay socket next to the control connection's local address. */
  static async open(options: AssociationOptions): Promise<UdpAssociation> {
    const local = normalizeHost(options.control.localAddress ?? '127.0.0.1');
    const socket = createSocket(isIPv4(local) ? 'udp4' : 'udp6');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, local, () => (socket.off('error', reject), resolve()));
    });
    return new UdpAssociation(socket, options);
  }

  /** The relay address to put in the UDP ASSOCIATE reply. */
  address(): Address {
    const { address, port } = this.socket.address();
    return { host: address, port };
  }

  private fromClient(packet: Buffer, remote: RemoteInfo): void {
    if (!this.acceptsFrom(remote)) return;
    let datagram;
    try {
      datagram = parseDatagram(packet);
    } catch {
      return;
    }
    if (datagram.fragment !== 0) return;
    this.idle.touch();
    this.destinationFor(datagram.address)?.deliver(datagram.data);
  }

  /** Only the control connection's host may use the relay; the first datagram fixes the client's port. */
  private acceptsFrom(remote: RemoteInfo): boolean {
    const host = normalizeHost(remote.address);
    if (this.client) return this.client.host === host && this.client.port === remote.port;
    if (host !== normalizeHost(this.options.control.remoteAddress ?? '')) return false;
    if (this.options.expectedClient.port !== 0 && this.options.expectedClient.port !== remote.port) return false;
    this.client = { host, port: remote.port };
    return true;
  }

  private destinationFor(address: Address): Destination | undefined {
    const to = { host: normalizeHost(address.host), port: address.port };
    const key = formatAddress(to);
    const known = this.destinations.get(key);
    if (known) return known;
    if (this.destinations.size >= maxDestinations || this.ended) return undefined;
    const destination = this.destination(key, to);
    this.destinations.set(key, destination);
    const { dispatcher, inbound, user } = this.options;
    void dispatcher.handleUdp({ network: 'udp', inbound, source: this.client!, destination: address, user }, destination);
    return destination;
  }

  /**
   * The endpoint of one destination's flow. Datagrams wait (up to 64) until the flow's relay
   * listens; a destination whose outbound refused keeps dropping its datagrams until it has
   * been quiet for the UDP idle timeout, so a client that keeps sending does not dial again and again.
   */
  private destination(key: string, to: Address): Destination {
    let queue: Buffer[] | undefined = [];
    let handler: ((data: Buffer, to: Address) => void) | undefined;
    let onClose: (() => void) | undefined;
    let refused: IdleTimer | undefined;
    const forget = (): void => {
      refused?.stop();
      if (this.destinations.get(key) === destination) this.destinations.delete(key);
    };
    const destination: Destination = {
      deliver: (data) => {
        if (handler) handler(data, to);
        else if (queue && queue.length < maxQueued) queue.push(data);
        refused?.touch();
      },
      onPacket: (receive) => {
        handler = receive;
        for (const data of queue ?? []) receive(data, to);
        queue = undefined;
      },
      send: (data, from) => {
        if (!this.client || this.ended) return;
        this.idle.touch();
        this.socket.send(encodeDatagram(from, data), this.client.port, this.client.host);
      },
      onClose: (notify) => (this.ended ? notify() : void (onClose = notify)),
      close: () => {
        handler = undefined;
        forget();
        onClose?.();
      },
      reject: () => {
        queue = undefined;
        refused = new IdleTimer(this.options.dispatcher.timeouts.udpIdleMs, forget);
      },
    };
    return destination;
  }

  private readonly end = (): void => {
    if (this.ended) return;
    this.ended = true;
    this.options.dispatcher.stopping.removeEventListener('abort', this.end);
    this.idle.stop();
    for (const destination of [...this.destinations.values()]) destination.close();
    this.socket.close();
    this.options.control.destroy();
    this.markClosed();
  };
}
