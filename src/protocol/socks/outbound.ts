import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn, StreamDialer } from '../../adapter/outbound.js';
import { normalizeHost, type Address } from '../../common/address.js';
import { connectServer, type ServerConnectOptions } from '../../common/connect.js';
import { DialError } from '../../common/errors.js';
import { bindingApplies, bindUdpSocket, effectiveBinding } from '../../common/socket-options.js';
import { startTls } from '../../common/tls-client.js';
import { Command, encodeDatagram, parseDatagram, type Credentials } from './codec.js';
import { socksHandshake } from './client.js';

/** A `type: socks5` proxy's settings. */
export interface Socks5Settings {
  /** The server. */
  server: Address;
  /** User name and password, if the server wants them. */
  credentials: Credentials | undefined;
  /** `tls`: SOCKS5 inside TLS (`skip-cert-verify` accepts any certificate). */
  tls: { skipCertVerify: boolean } | undefined;
  /** `udp`: UDP flows through UDP ASSOCIATE. */
  udp: boolean;
}

/** A Clash `type: socks5` proxy: TCP flows by CONNECT, UDP flows by UDP ASSOCIATE (RFC 1928). */
export class Socks5Outbound implements Outbound {
  readonly type = 'Socks5';

  constructor(
    readonly name: string,
    private readonly settings: Socks5Settings,
    private readonly connect: ServerConnectOptions,
  ) {}

  async dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    const stream = await this.open(flow, via);
    await socksHandshake(stream, this.request(Command.connect, flow.destination));
    return stream;
  }

  async listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    if (!this.settings.udp) throw new DialError('general', `proxy ${this.name} has udp: false`);
    if (via) throw new DialError('general', `proxy ${this.name}: SOCKS5 UDP goes straight to the server, not through a relay chain or dialer-proxy`);
    const control = await this.open(flow);
    const bound = await socksHandshake(control, this.request(Command.udpAssociate, { host: '0.0.0.0', port: 0 }));
    // A server behind NAT or listening on every address answers 0.0.0.0: its datagrams go to the address we reached it on.
    const relayHost = bound.host === '0.0.0.0' || bound.host === '::' ? serverAddress(control) : bound.host;
    if (!relayHost) {
      control.destroy();
      throw new DialError('general', `proxy ${this.name}: the SOCKS5 server gave no address for its UDP relay`);
    }
    const family = isIP(relayHost) === 6 ? 6 : 4;
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    try {
      const binding = effectiveBinding(this.connect.sockets, flow.binding);
      if (bindingApplies(binding, relayHost)) bindUdpSocket(socket, family, binding);
    } catch (error) {
      socket.close();
      control.destroy();
      throw new DialError('general', `proxy ${this.name}: ${(error as Error).message}`);
    }
    return new SocksPacketConn(control, socket, { host: relayHost, port: bound.port });
  }

  supportsUdp(): boolean {
    return this.settings.udp;
  }

  /** The connection to the server, inside TLS when `tls` is on. */
  private async open(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    const stream = await connectServer(this.settings.server, flow, via, this.connect);
    if (!this.settings.tls) return stream;
    return startTls(stream, { servername: this.settings.server.host, skipCertVerify: this.settings.tls.skipCertVerify }, flow.signal);
  }

  private request(command: number, destination: Address) {
    return { proxy: this.name, credentials: this.settings.credentials, command, destination, timeoutMs: this.connect.timeoutMs };
  }
}

/** The address the control connection reached (a TLS stream's underlying socket's too). */
function serverAddress(control: Duplex): string | undefined {
  const address = (control as Partial<Socket>).remoteAddress;
  return address === undefined ? undefined : normalizeHost(address);
}

/**
 * UDP through a SOCKS5 server: each datagram wrapped in RFC 1928 §7's header and sent to its
 * relay; the association lasts as long as the TCP control connection, as the RFC says.
 */
class SocksPacketConn implements PacketConn {
  private handler: (data: Buffer, from: Address) => void = () => {};
  private closed = false;

  constructor(
    private readonly control: Duplex,
    private readonly socket: UdpSocket,
    private readonly relay: Address,
  ) {
    socket.on('error', () => {});
    socket.on('message', (packet, from) => {
      if (normalizeHost(from.address) !== relay.host || from.port !== relay.port) return;
      try {
        const datagram = parseDatagram(packet);
        if (datagram.fragment === 0) this.handler(datagram.data, datagram.address);
      } catch {
        // Not a datagram header: dropped, as UDP drops.
      }
    });
    control.on('error', () => {});
    control.on('data', () => {}); // nothing is expected; reading notices the close.
    control.once('close', () => this.close());
  }

  send(data: Buffer, to: Address): void {
    if (this.closed) return;
    let packet: Buffer;
    try {
      packet = encodeDatagram(to, data);
    } catch {
      return; // a name longer than 255 bytes cannot be sent
    }
    this.socket.send(packet, this.relay.port, this.relay.host);
  }

  onPacket(handler: (data: Buffer, from: Address) => void): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.control.destroy();
  }

  onClose(handler: (error?: Error) => void): void {
    if (this.closed || this.control.destroyed) return handler();
    this.control.once('close', () => handler());
  }
}
