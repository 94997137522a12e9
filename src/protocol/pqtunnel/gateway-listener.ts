/**
 * The gateway a `listeners: type: pqtunnel` entry runs (spec §8): a TUN device holding the
 * first pool address, forwarding and NAT through the firewall, virtual IP leases, the source
 * check and local-network protection on every packet from a client, MSS clamping both ways.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { hostAddresses } from '../../common/address.js';
import type { Inbound } from '../../adapter/inbound.js';
import type { EventBus } from '../../common/bus.js';
import type { Logger } from '../../common/log.js';
import type { TunnelGatewayConfig } from '../../config/types.js';
import type { TunDevice, TunOffloadStats } from '../../adapter/tun.js';
import { NativeTunDevice } from '../tun/device.js';
import { NetChanges, ip } from '../tun/netconfig.js';
import { addressKey, clampMss, destinationKey, destinationOf, isIpPacket, mssFor, sourceKey, type AddressKey } from '../tun/packet.js';
import { installFirewall, type FirewallPlan } from './host/firewall.js';
import { TunnelGateway, type GatewayPeerConfig } from './engine/gateway.js';
import { decodeKey } from './crypto/keys.js';
import { LeaseTable, parsePool, poolAddress, type Lease, type Pool } from './engine/leases.js';
import { encodeParams } from './wire/params.js';
import { x25519FromPrivate } from './crypto/primitives.js';
import { DestinationPolicy } from './engine/protection.js';
import type { TunnelCounters } from './engine/seams.js';
import { reportHandshakes, type TunnelStatus } from './status.js';
import { tunnelSocketBuffer, udpBind } from './host/udp-bind.js';

/** Packets the gateway refused, by reason. */
type GatewayDrops = {
  /** Source address not the client's virtual IP (spoofing). */
  spoofed: number;
  /** Destination denied by the local-network protection. */
  denied: number;
  /** Not an IPv4/IPv6 packet. */
  malformed: number;
  /** From the TUN for an address no connected client holds. */
  noPeer: number;
};

function isEchoRequest(packet: Buffer): boolean {
  if (packet[0]! >> 4 === 4) return packet[9] === 1 && packet[(packet[0]! & 0x0f) * 4] === 8;
  return packet[6] === 58 && packet[40] === 128;
}

/** A running tunnel gateway. */
export class TunnelGatewayListener implements Inbound, TunnelStatus {
  readonly type = 'pqtunnel';
  readonly role = 'server';
  private readonly dropped: GatewayDrops = { spoofed: 0, denied: 0, malformed: 0, noPeer: 0 };
  private readonly changes = new NetChanges();
  private readonly peerByAddress = new Map<AddressKey, string>();
  private readonly leaseByPeer = new Map<string, Lease>();
  private socket: Socket | undefined;
  private tun: TunDevice | undefined;
  private engine: TunnelGateway | undefined;
  private policy: DestinationPolicy | undefined;
  private tunKeys = new Set<AddressKey>();
  /** Re-installs the firewall with the current leases (allow-destinations rules name client addresses). */
  private refreshFirewall: () => void = () => {};
  private firewallUpdates: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: TunnelGatewayConfig,
    private readonly logger: Logger,
    private readonly bus: EventBus,
  ) {}

  get name(): string {
    return this.config.name;
  }

  sessions(): number {
    return this.engine?.activeSessions() ?? 0;
  }

  tunOffload(): TunOffloadStats | undefined {
    return this.tun?.offloadStats();
  }

  counters(): TunnelCounters | undefined {
    return this.engine?.counters;
  }

  drops(): Readonly<Record<string, number>> {
    return this.dropped;
  }

  /** Opens the TUN, configures addresses, forwarding and the firewall, then binds the UDP port. */
  async start(): Promise<void> {
    try {
      await this.setUp();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  private async setUp(): Promise<void> {
    const config = this.config;
    const mtu = config.tun?.mtu ?? 1420;
    const pools: { v4?: Pool; v6?: Pool } = { v4: parsePool(config['ipv4-pool']) };
    if (config['ipv6-pool']) pools.v6 = parsePool(config['ipv6-pool']);
    const tunAddress = { v4: poolAddress(pools.v4!, 1n), v6: pools.v6 ? poolAddress(pools.v6, 1n) : undefined };
    const fixed = new Map<string, Lease>();
    for (const peer of config.peers) {
      if (!peer.address?.length) continue;
      fixed.set(keyText(peer['public-key']), {
        v4: peer.address.find((a) => !a.includes(':'))?.replace(/\/\d+$/, ''),
        v6: peer.address.find((a) => a.includes(':'))?.replace(/\/\d+$/, ''),
      });
    }
    const leases = new LeaseTable(pools, fixed, config['lease-file']);
    const own = hostAddresses().map((entry) => entry.address);
    this.policy = new DestinationPolicy(own, new Map(config.peers.map((peer) => [peer.name, peer['allow-destinations'] ?? []])));

    const tun = (this.tun = NativeTunDevice.open(config.tun?.name ?? 'pq0', mtu));
    await ip('link', 'set', 'dev', tun.name, 'mtu', String(mtu), 'up');
    await ip('address', 'add', `${tunAddress.v4}/${pools.v4!.length}`, 'dev', tun.name);
    if (pools.v6) await ip('-6', 'address', 'add', `${tunAddress.v6}/${pools.v6.length}`, 'dev', tun.name, 'nodad');
    this.tunKeys = new Set([tunAddress.v4, tunAddress.v6].filter((a): a is string => !!a).map(addressKey));
    await this.changes.sysctl('net/ipv4/ip_forward', '1');
    if (pools.v6) await this.changes.sysctl('net/ipv6/conf/all/forwarding', '1');
    const plan = (): FirewallPlan => ({
      tag: `sluice_${tun.name}`,
      device: tun.name,
      tunAddress,
      pools: { v4: config['ipv4-pool'], v6: config['ipv6-pool'] },
      masquerade: (config.nat ?? 'masquerade') === 'masquerade',
      allowances: config.peers
        .filter((peer) => peer['allow-destinations']?.length)
        .map((peer) => ({ ...(this.leaseByPeer.get(peer.name) ?? fixed.get(keyText(peer['public-key'])) ?? {}), destinations: peer['allow-destinations']! })),
    });
    const firewall = await installFirewall(plan());
    this.changes.onRevert(() => this.firewallUpdates.then(() => firewall.remove()));
    this.refreshFirewall = (): void => {
      this.firewallUpdates = this.firewallUpdates
        .then(() => firewall.update(plan()))
        .catch((error: Error) => this.logger.error(`pqtunnel ${this.name}: firewall: ${error.message}`));
    };

    const peers: GatewayPeerConfig[] = config.peers.map((peer) => {
      const key = keyText(peer['public-key']);
      return {
        name: peer.name,
        publicKey: decodeKey(peer['public-key'], `peer ${peer.name} public-key`),
        psk: peer['pre-shared-key'] ? decodeKey(peer['pre-shared-key'], `peer ${peer.name} pre-shared-key`) : undefined,
        params: () => {
          const lease = leases.leaseFor(key);
          this.assign(peer.name, lease);
          return encodeParams({ ...lease, prefix4: 32, prefix6: 128, mtu, keepaliveSeconds: 0, dns: false });
        },
      };
    });
    const socket = (this.socket = createSocket({ type: config.listen?.includes(':') ? 'udp6' : 'udp4', recvBufferSize: tunnelSocketBuffer, sendBufferSize: tunnelSocketBuffer }));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: config.listen ?? '0.0.0.0', port: config.port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (error) => this.logger.warn(`pqtunnel ${this.name}: UDP socket: ${error.message}`));
    const staticKey = x25519FromPrivate(decodeKey(config['private-key'], 'private-key'));
    const nextKey = config['next-private-key'] ? x25519FromPrivate(decodeKey(config['next-private-key'], 'next-private-key')) : undefined;
    const mss4 = mssFor(mtu, 4);
    const mss6 = mssFor(mtu, 6);
    const engine = (this.engine = new TunnelGateway({
      staticKey,
      nextStaticKey: nextKey,
      peers,
      bind: udpBind(socket),
      mtu,
      onPacket: (peer, packet) => this.fromClient(peer.name, packet, mss4, mss6),
      onHandshake: reportHandshakes(this.bus, this.name, 'server'),
    }));
    tun.onPackets((packets) => {
      for (const packet of packets) {
        if (!isIpPacket(packet)) continue;
        const peer = this.peerByAddress.get(destinationKey(packet));
        if (peer === undefined) {
          this.dropped.noPeer++;
          continue;
        }
        clampMss(packet, mss4, mss6);
        engine.send(peer, packet);
      }
    });
    this.logger.info(`pqtunnel gateway ${this.name}: ${tun.name} ${tunAddress.v4}/${pools.v4!.length}${pools.v6 ? ` ${tunAddress.v6}/${pools.v6.length}` : ''}, firewall ${firewall.backend}`);
  }

  /** Records which peer holds which virtual address (a changed lease replaces the old mapping). */
  private assign(peer: string, lease: Lease): void {
    const old = this.leaseByPeer.get(peer);
    for (const address of [old?.v4, old?.v6]) if (address) this.peerByAddress.delete(addressKey(address));
    for (const address of [lease.v4, lease.v6]) if (address) this.peerByAddress.set(addressKey(address), peer);
    this.leaseByPeer.set(peer, lease);
    const allows = this.config.peers.find((p) => p.name === peer)?.['allow-destinations']?.length;
    if (allows && (old?.v4 !== lease.v4 || old?.v6 !== lease.v6)) this.refreshFirewall();
  }

  private fromClient(peer: string, packet: Buffer, mss4: number, mss6: number): void {
    if (packet.length === 0) return;
    if (!isIpPacket(packet)) {
      this.dropped.malformed++;
      return;
    }
    if (this.peerByAddress.get(sourceKey(packet)) !== peer) {
      this.dropped.spoofed++;
      return;
    }
    const echoToGateway = this.tunKeys.has(destinationKey(packet)) && isEchoRequest(packet);
    if (!echoToGateway && !this.policy!.allows(peer, destinationOf(packet))) {
      this.dropped.denied++;
      return;
    }
    clampMss(packet, mss4, mss6);
    this.tun!.write(packet);
  }

  /** Stops the engine, closes the TUN (the kernel removes it) and removes the firewall and sysctls it set. */
  async close(): Promise<void> {
    this.engine?.close();
    if (!this.engine) this.socket?.close();
    this.engine = this.socket = undefined;
    this.tun?.close();
    this.tun = undefined;
    await this.changes.revert((error) => this.logger.warn(`pqtunnel ${this.name}: cleanup: ${error.message}`));
  }

  address(): AddressInfo {
    return this.socket?.address() ?? { address: this.config.listen ?? '0.0.0.0', family: 'IPv4', port: this.config.port };
  }
}

/** The canonical base64 form of a configured key (for lease keys). */
function keyText(key: string): string {
  return decodeKey(key, 'public-key').toString('base64');
}
