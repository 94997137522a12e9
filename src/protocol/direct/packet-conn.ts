import { createSocket, type Socket } from 'node:dgram';
import type { DestinationGuard } from '../../adapter/flow.js';
import type { PacketConn } from '../../adapter/outbound.js';
import { ipFamily, normalizeHost, type Address } from '../../common/address.js';
import type { DnsCache } from '../../common/dns-cache.js';

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
    private readonly localAddress?: string,
    /** Destinations datagrams may not go to (dropped, as UDP drops). */
    private readonly guard?: DestinationGuard,
  ) {}

  send(data: Buffer, to: Address): void {
    const family = ipFamily(to.host);
    if (family !== 0) {
      if (this.guard?.problem(to.host) === undefined) this.sendTo(data, to.host, family, to.port);
      return;
    }
    this.dns.resolveAll(to.host).then(
      (resolved) => {
        const addresses = this.guard ? resolved.filter((a) => this.guard!.problem(a.address) === undefined) : resolved;
        const preferred = this.localAddress ? ipFamily(this.localAddress) : 4;
        const first = addresses.find((a) => a.family === preferred) ?? (this.localAddress ? undefined : addresses[0]);
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
    if (this.closed || (this.localAddress && ipFamily(this.localAddress) !== family)) return;
    this.socketFor(family).send(data, port, ip);
  }

  private socketFor(family: 4 | 6): Socket {
    let socket = this.sockets.get(family);
    if (!socket) {
      socket = createSocket(family === 4 ? 'udp4' : 'udp6');
      socket.on('message', (msg, rinfo) => this.handler(msg, { host: normalizeHost(rinfo.address), port: rinfo.port }));
      socket.on('error', () => {});
      if (this.localAddress) socket.bind({ address: this.localAddress, port: 0 });
      this.sockets.set(family, socket);
    }
    return socket;
  }
}
