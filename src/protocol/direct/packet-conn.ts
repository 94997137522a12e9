import { createSocket, type Socket } from 'node:dgram';
import type { DestinationGuard } from '../../adapter/flow.js';
import type { PacketConn } from '../../adapter/outbound.js';
import { ipFamily, normalizeHost, type Address } from '../../common/address.js';
import type { DnsCache } from '../../common/dns-cache.js';
import { DialError } from '../../common/errors.js';
import { bindUdpSocket, type SocketBinding } from '../../common/socket-options.js';

/** Where a DirectPacketConn's sockets send from and to. */
export interface DirectPacketOptions {
  /** Source address to bind (a tunnel's virtual IP): one socket, and only its family is reached. */
  localAddress?: string;
  /** Destinations datagrams may not go to (dropped, as UDP drops). */
  guard?: DestinationGuard;
  /** `interface-name`/`routing-mark` of its sockets. */
  binding?: SocketBinding;
}

/**
 * UDP straight to the destination; one socket per address family, opened on first use. With a
 * local address (a tunnel's virtual IP) there is one socket bound to it and only its family is reached.
 */
export class DirectPacketConn implements PacketConn {
  private readonly sockets = new Map<4 | 6, Socket>();
  private handler: (data: Buffer, from: Address) => void = () => {};
  private closed = false;

  constructor(
    private readonly dns: DnsCache,
    private readonly options: DirectPacketOptions = {},
  ) {}

  /**
   * A conn whose IPv4 socket is opened at once, so that an interface or mark that cannot be
   * set fails the flow with the reason (a DialError) instead of dropping every datagram.
   */
  static open(dns: DnsCache, options: DirectPacketOptions): DirectPacketConn {
    const conn = new DirectPacketConn(dns, options);
    if (options.binding) {
      try {
        conn.socketFor(ipFamily(options.localAddress ?? '') === 6 ? 6 : 4);
      } catch (error) {
        conn.close();
        throw new DialError('general', (error as Error).message, { cause: error });
      }
    }
    return conn;
  }

  send(data: Buffer, to: Address): void {
    const family = ipFamily(to.host);
    if (family !== 0) {
      if (this.options.guard?.problem(to.host) === undefined) this.sendTo(data, to.host, family, to.port);
      return;
    }
    this.dns.resolveAll(to.host).then(
      (resolved) => {
        const addresses = this.options.guard ? resolved.filter((a) => this.options.guard!.problem(a.address) === undefined) : resolved;
        const preferred = this.options.localAddress ? ipFamily(this.options.localAddress) : 4;
        const first = addresses.find((a) => a.family === preferred) ?? (this.options.localAddress ? undefined : addresses[0]);
        if (first) this.sendTo(data, first.address, first.family === 6 ? 6 : 4, to.port);
      },
      () => {},
    );
  }

  onPacket(handler: (data: Buffer, from: Address) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.closed = true;
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
  }

  private sendTo(data: Buffer, ip: string, family: 4 | 6, port: number): void {
    if (this.closed || (this.options.localAddress && ipFamily(this.options.localAddress) !== family)) return;
    let socket: Socket;
    try {
      socket = this.socketFor(family);
    } catch {
      return; // the binding cannot be set for this family: dropped, as UDP drops.
    }
    socket.send(data, port, ip);
  }

  private socketFor(family: 4 | 6): Socket {
    let socket = this.sockets.get(family);
    if (!socket) {
      socket = createSocket(family === 4 ? 'udp4' : 'udp6');
      socket.on('error', () => {});
      try {
        if (this.options.binding) bindUdpSocket(socket, family, this.options.binding);
        else if (this.options.localAddress) socket.bind({ address: this.options.localAddress, port: 0 });
      } catch (error) {
        socket.close();
        throw error;
      }
      socket.on('message', (msg, rinfo) => this.handler(msg, { host: normalizeHost(rinfo.address), port: rinfo.port }));
      this.sockets.set(family, socket);
    }
    return socket;
  }
}
