import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn, StreamDialer } from '../../adapter/outbound.js';
import type { Address } from '../../common/address.js';
import { connectServer } from '../../common/connect.js';
import type { DnsCache } from '../../common/dns-cache.js';
import type { OutboundSockets } from '../../common/socket-options.js';
import { DialError } from '../../common/errors.js';
import { clientSession, type VmessClientConfig } from './client.js';
import { Command } from './request-header.js';
import { VmessStream } from './stream.js';

/** How long a client waits for first data before sending the request header alone (as v2ray does). */
const headerDelayMs = 100;

/** A Clash `type: vmess` proxy: TCP flows and, when `udp` is on, UDP flows through a VMess server. */
export class VmessOutbound implements Outbound {
  readonly type = 'Vmess';

  constructor(
    readonly name: string,
    private readonly server: Address,
    private readonly config: VmessClientConfig,
    private readonly udp: boolean,
    private readonly dns: DnsCache,
    private readonly connectTimeoutMs: number,
    /** Keep-alive, tcp-concurrent, interface and mark of the connection to the server. */
    private readonly sockets?: OutboundSockets,
  ) {}

  async dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    return this.open(flow, Command.tcp, via);
  }

  async listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    if (!this.udp) throw new DialError('general', `proxy ${this.name} has udp: false`);
    return new VmessPacketConn(await this.open(flow, Command.udp, via), flow.destination);
  }

  supportsUdp(): boolean {
    return this.udp;
  }

  private async open(flow: Flow, command: number, via: StreamDialer | undefined): Promise<VmessStream> {
    let session;
    try {
      session = clientSession(this.config, command, flow.destination);
    } catch (error) {
      throw new DialError('general', (error as Error).message);
    }
    const socket = await connectServer(this.server, flow, via, { dns: this.dns, timeoutMs: this.connectTimeoutMs, sockets: this.sockets });
    return new VmessStream({ socket, ...session, prefixTimeoutMs: headerDelayMs });
  }
}

/** UDP over one VMess connection: one destination, one datagram per chunk (spec §9). */
class VmessPacketConn implements PacketConn {
  private handler: (data: Buffer, from: Address) => void = () => {};

  constructor(
    private readonly stream: VmessStream,
    private readonly destination: Address,
  ) {
    stream.on('data', (datagram: Buffer) => this.handler(datagram, this.destination));
    stream.on('error', () => {});
  }

  send(data: Buffer): void {
    // A datagram too large for one chunk is dropped, as UDP allows (spec §7.8).
    if (this.stream.destroyed || this.stream.writableEnded || data.length > this.stream.maxPayload) return;
    this.stream.write(data);
  }

  onPacket(handler: (data: Buffer, from: Address) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.stream.destroy();
  }

  onClose(handler: (error?: Error) => void): void {
    if (this.stream.destroyed) return handler();
    this.stream.once('close', () => handler());
  }
}
