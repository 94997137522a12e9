/**
 * The `type: pqtunnel` outbound (spec §8.6): a client engine, its TUN device with the virtual
 * IP the gateway leased, and the policy routes of its mode. Flows routed here are ordinary TCP
 * and UDP sockets bound to the virtual IP, so the kernel carries them through the tunnel.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn, StreamDialer } from '../../adapter/outbound.js';
import { connectTcp } from '../../common/connect.js';
import type { DnsCache } from '../../common/dns-cache.js';
import { DialError, toDialError } from '../../common/errors.js';
import type { EventBus } from '../../common/bus.js';
import type { Logger } from '../../common/log.js';
import type { TunnelProxyConfig } from '../../config/proxy-types.js';
import { DirectPacketConn } from '../direct/packet-conn.js';
import type { TunDevice, TunOffloadStats } from '../../adapter/tun.js';
import { NativeTunDevice } from '../tun/device.js';
import { ip, ipBatch } from '../tun/netconfig.js';
import { TunnelClient } from './engine/client.js';
import { cleanupLines, installLines } from './host/client-routes.js';
import { decodeKey } from './crypto/keys.js';
import { decodeParams, type SessionParams } from './wire/params.js';
import { x25519FromPrivate } from './crypto/primitives.js';
import type { TunnelCounters } from './engine/seams.js';
import { reportHandshakes, type TunnelStatus } from './status.js';
import { tunnelSocketBuffer, udpBind } from './host/udp-bind.js';

/** Where the outbound sits among the config's tunnels: decides its table and rule priorities. */
export interface TunnelSlot {
  /** Routing table. */
  table: number;
  /** First of three owned rule priorities. */
  priority: number;
  /** Turns a rule-set name into prefixes (exclude-routes); undefined when no ipcidr provider has that name. */
  prefixesOf(name: string): string[] | undefined;
}

/** A server name is looked up again at most this often while handshakes go unanswered. */
const reresolveIntervalMs = 30_000;

/** Default local UDP port in full-tunnel mode (the loop breaker needs a fixed one). */
export const defaultFullTunnelPort = 51821;

/** A tunnel to one gateway, used as an outbound. */
export class TunnelOutbound implements Outbound, TunnelStatus {
  readonly type = 'PqTunnel';
  readonly role = 'client';
  private tun: TunDevice | undefined;
  private client: TunnelClient | undefined;
  private params: SessionParams | undefined;
  private configuring: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<() => void>();
  private started = false;
  /** Why the last start failed, for the dial errors of flows routed here. */
  private failure: string | undefined;
  /** The gateway address in use, and when the name was last looked up (performance.now()). */
  private serverAddress = '';
  private resolvedAt = 0;

  constructor(
    private readonly config: TunnelProxyConfig,
    /** Its routing table and rule priorities. */
    readonly slot: TunnelSlot,
    private readonly dns: DnsCache,
    private readonly connectTimeoutMs: number,
    private readonly logger: Logger,
    private readonly bus: EventBus,
  ) {}

  get name(): string {
    return this.config.name;
  }

  sessions(): number {
    return this.client?.isUp ? 1 : 0;
  }

  tunOffload(): TunOffloadStats | undefined {
    return this.tun?.offloadStats();
  }

  counters(): TunnelCounters | undefined {
    return this.client?.counters;
  }

  /** Opens the TUN and the UDP socket and starts the handshake; the routes follow the gateway's parameters. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await this.setUp();
      this.failure = undefined;
    } catch (error) {
      this.failure = (error as Error).message;
      await this.close();
      throw error;
    }
  }

  private async setUp(): Promise<void> {
    const config = this.config;
    const mtu = config.mtu ?? 1420;
    const fullTunnel = config.mode === 'full-tunnel';
    const server = await lookup(config.server);
    this.serverAddress = server.address;
    this.resolvedAt = performance.now();
    await ipBatch(cleanupLines(this.slot.table, this.slot.priority), true);
    const tun = (this.tun = NativeTunDevice.open(config['tun-name'] ?? 'pqc%d', mtu));
    await ip('link', 'set', 'dev', tun.name, 'mtu', String(mtu), 'up');
    const socket: Socket = createSocket({ type: server.family === 6 ? 'udp6' : 'udp4', recvBufferSize: tunnelSocketBuffer, sendBufferSize: tunnelSocketBuffer });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error) => {
        socket.close();
        reject(error);
      });
      socket.bind({ port: config['listen-port'] ?? (fullTunnel ? defaultFullTunnelPort : 0) }, () => {
        socket.removeAllListeners('error');
        resolve();
      });
    });
    socket.on('error', (error) => this.logger.warn(`pqtunnel ${this.name}: UDP socket: ${error.message}`));
    const report = reportHandshakes(this.bus, this.name, 'client');
    const client = (this.client = new TunnelClient({
      staticKey: x25519FromPrivate(decodeKey(config['private-key'], 'private-key')),
      gatewayPublic: decodeKey(config['public-key'], 'public-key'),
      psk: config['pre-shared-key'] ? decodeKey(config['pre-shared-key'], 'pre-shared-key') : undefined,
      endpoint: { host: server.address, port: config.port },
      bind: udpBind(socket),
      mtu,
      persistentKeepaliveMs: (config['persistent-keepalive'] ?? 25) * 1000,
      onPacket: (packet) => tun.write(packet),
      onParams: (field) => this.onParams(field),
      onState: (up) => {
        this.logger.info(`pqtunnel ${this.name}: tunnel ${up ? 'up' : 'down, retrying'}`);
        if (this.bus.tunnels.observed) this.bus.tunnels.next({ name: this.name, role: 'client', kind: up ? 'up' : 'down' });
      },
      onHandshake: (outcome) => {
        report(outcome);
        if (!outcome.ok) this.reresolve(server.family, client);
      },
    }));
    tun.onPackets((packets) => {
      for (const packet of packets) client.send(client.isUp ? packet : Buffer.from(packet));
    });
    client.connect();
    this.logger.info(`pqtunnel ${this.name}: ${tun.name} handshaking with ${server.address}:${config.port} (${config.mode ?? 'proxy-outbound'})`);
  }

  /**
   * After a handshake went unanswered, looks the server's name up again (at most every 30 s):
   * a gateway behind dynamic DNS may have moved. Only an address of the socket's family is taken.
   */
  private reresolve(family: number, client: TunnelClient): void {
    const now = performance.now();
    if (isIP(this.config.server) !== 0 || now - this.resolvedAt < reresolveIntervalMs) return;
    this.resolvedAt = now;
    lookup(this.config.server, { family }).then(
      ({ address }) => {
        if (address === this.serverAddress || this.client !== client) return;
        this.serverAddress = address;
        client.setEndpoint({ host: address, port: this.config.port });
        this.logger.info(`pqtunnel ${this.name}: ${this.config.server} now resolves to ${address}`);
      },
      (error: Error) => this.logger.debug(`pqtunnel ${this.name}: looking up ${this.config.server} again failed: ${error.message}`),
    );
  }

  private onParams(field: Buffer): void {
    const params = decodeParams(field);
    if (!params || (!params.v4 && !params.v6)) return this.logger.warn(`pqtunnel ${this.name}: the gateway sent no usable address`);
    if (this.params && this.params.v4 === params.v4 && this.params.v6 === params.v6) return;
    this.configuring = this.configuring.then(() => this.configure(params)).catch((error: Error) => this.logger.error(`pqtunnel ${this.name}: routes: ${error.message}`));
  }

  private async configure(params: SessionParams): Promise<void> {
    const tun = this.tun;
    if (!tun) return;
    const { table, priority } = this.slot;
    if (this.params) {
      await ipBatch(cleanupLines(table, priority), true);
      await ip('address', 'flush', 'dev', tun.name);
    }
    const exclude = (this.config['exclude-routes'] ?? []).flatMap((entry) => (entry.includes('/') ? [entry] : (this.slot.prefixesOf(entry) ?? [])));
    const fullTunnel = this.config.mode === 'full-tunnel';
    const listenPort = this.config['listen-port'] ?? defaultFullTunnelPort;
    await ipBatch(installLines({ device: tun.name, table, priority, mode: fullTunnel ? 'full-tunnel' : 'proxy-outbound', v4: params.v4, v6: params.v6, listenPort, exclude }));
    this.params = params;
    this.logger.info(`pqtunnel ${this.name}: address ${[params.v4, params.v6].filter(Boolean).join(' ')} on ${tun.name}${exclude.length ? `, ${exclude.length} prefixes excluded` : ''}`);
    for (const wake of this.waiters) wake();
  }

  /** The virtual address to bind for a destination family, once the tunnel is configured. */
  private async localAddress(flow: Flow): Promise<string> {
    const deadline = this.connectTimeoutMs;
    if (!this.params) {
      if (!this.started) throw new DialError('general', `${this.name} is not running${this.failure ? `: ${this.failure}` : ''}`);
      await new Promise<void>((resolve, reject) => {
        const done = (error?: unknown): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          flow.signal.removeEventListener('abort', abort);
          if (error) reject(toDialError(error));
          else resolve();
        };
        const wake = (): void => done();
        const abort = (): void => done(flow.signal.reason);
        const timer = setTimeout(() => done(new DialError('timeout', `${this.name}: no tunnel to the gateway after ${deadline} ms`)), deadline);
        this.waiters.add(wake);
        flow.signal.addEventListener('abort', abort, { once: true });
      });
    }
    const params = this.params!;
    const wantsV6 = flow.destination.host.includes(':');
    const address = wantsV6 ? (params.v6 ?? params.v4) : (params.v4 ?? params.v6);
    return address!;
  }

  async dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    if (via) throw new DialError('general', `${this.name} cannot be reached through a relay chain`);
    const localAddress = await this.localAddress(flow);
    return connectTcp(flow.destination, { dns: this.dns, timeoutMs: this.connectTimeoutMs, signal: flow.signal, localAddress });
  }

  async listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    if (via) throw new DialError('general', `${this.name} cannot send UDP through a relay chain`);
    return new DirectPacketConn(this.dns, { localAddress: await this.localAddress(flow) });
  }

  supportsUdp(): boolean {
    return this.config.udp ?? true;
  }

  /** Stops the engine, removes the routes and rules, closes the TUN. */
  async close(): Promise<void> {
    this.started = false;
    if (!this.client && !this.tun) return;
    this.client?.close();
    await this.configuring;
    await ipBatch(cleanupLines(this.slot.table, this.slot.priority), true);
    this.tun?.close();
    this.client = this.tun = this.params = undefined;
  }
}
