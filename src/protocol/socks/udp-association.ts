import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIPv4, type Socket } from 'node:net';
import type { Flow, InboundInfo } from '../../adapter/flow.js';
import type { PacketConn } from '../../adapter/outbound.js';
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

interface Destination {
  flow: Flow;
  /** Undefined while the outbound is being opened, null when it refused. */
  conn: PacketConn | undefined | null;
  /** Datagrams that arrived while the outbound was being opened. */
  queue: Buffer[];
  idle: IdleTimer;
}

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
    const destination = this.destinationFor(datagram.address);
    if (!destination) return;
    destination.idle.touch();
    destination.flow.bytesUp += datagram.data.length;
    if (destination.conn) destination.conn.send(datagram.data, destination.flow.destination);
    else if (destination.conn === undefined && destination.queue.length < 64) destination.queue.push(datagram.data);
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
    const key = formatAddress({ host: normalizeHost(address.host), port: address.port });
    const known = this.destinations.get(key);
    if (known) return known;
    if (this.destinations.size >= maxDestinations || this.ended) return undefined;
    const { dispatcher } = this.options;
    const flow = dispatcher.open({
      network: 'udp',
      inbound: this.options.inbound,
      source: this.client!,
      destination: address,
      user: this.options.user,
    });
    const destination: Destination = {
      flow,
      conn: undefined,
      queue: [],
      idle: new IdleTimer(dispatcher.timeouts.udpIdleMs, () => this.forget(key)),
    };
    this.destinations.set(key, destination);
    flow.signal.addEventListener('abort', () => this.forget(key), { once: true });
    dispatcher.listenPacket(flow).then(
      (conn) => this.attach(key, destination, conn),
      () => {
        destination.conn = null;
        destination.queue = [];
      },
    );
    return destination;
  }

  private attach(key: string, destination: Destination, conn: PacketConn): void {
    if (this.destinations.get(key) !== destination) return conn.close();
    destination.conn = conn;
    conn.onPacket((data, from) => {
      if (!this.client || this.ended) return;
      this.idle.touch();
      destination.idle.touch();
      destination.flow.bytesDown += data.length;
      this.socket.send(encodeDatagram(from, data), this.client.port, this.client.host);
    });
    for (const data of destination.queue) conn.send(data, destination.flow.destination);
    destination.queue = [];
  }

  private forget(key: string): void {
    const destination = this.destinations.get(key);
    if (!destination) return;
    this.destinations.delete(key);
    destination.idle.stop();
    destination.conn?.close();
    this.options.dispatcher.close(destination.flow);
  }

  private readonly end = (): void => {
    if (this.ended) return;
    this.ended = true;
    this.options.dispatcher.stopping.removeEventListener('abort', this.end);
    this.idle.stop();
    for (const key of [...this.destinations.keys()]) this.forget(key);
    this.socket.close();
    this.options.control.destroy();
    this.markClosed();
  };
}
