import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn, StreamDialer } from '../../adapter/outbound.js';
import { DialError } from '../../common/errors.js';
import { connectTcp } from '../../common/connect.js';
import type { DnsCache } from '../../common/dns-cache.js';
import { DirectPacketConn } from './packet-conn.js';

/** Connects straight to the destination: happy eyeballs over a DNS cache. */
export class DirectOutbound implements Outbound {
  readonly type = 'Direct';

  constructor(
    readonly name: string,
    private readonly dns: DnsCache,
    /** A connection attempt (DNS included) that takes longer fails with a timeout. */
    private readonly connectTimeoutMs: number,
  ) {}

  dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    if (via) return via(flow.destination, flow.signal);
    return connectTcp(flow.destination, { dns: this.dns, timeoutMs: this.connectTimeoutMs, signal: flow.signal, guard: flow.inbound.guard });
  }

  async listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    if (via) throw new DialError('general', `${this.name} cannot send UDP through a relay chain`);
    return new DirectPacketConn(this.dns, undefined, flow.inbound.guard);
  }

  supportsUdp(): boolean {
    return true;
  }
}
