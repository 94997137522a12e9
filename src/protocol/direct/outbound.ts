import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn, StreamDialer } from '../../adapter/outbound.js';
import { DialError } from '../../common/errors.js';
import { connectTcp } from '../../common/connect.js';
import type { DnsCache } from '../../common/dns-cache.js';
import { effectiveBinding, type OutboundSockets } from '../../common/socket-options.js';
import { DirectPacketConn } from './packet-conn.js';

/** Connects straight to the destination: happy eyeballs over a DNS cache. */
export class DirectOutbound implements Outbound {
  readonly type = 'Direct';

  constructor(
    readonly name: string,
    private readonly dns: DnsCache,
    /** A connection attempt (DNS included) that takes longer fails with a timeout. */
    private readonly connectTimeoutMs: number,
    /** Keep-alive, tcp-concurrent, interface and mark; Node's defaults when absent. */
    private readonly sockets?: OutboundSockets,
  ) {}

  dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    if (via) return via(flow.destination, flow.signal);
    const { dns, connectTimeoutMs: timeoutMs, sockets } = this;
    return connectTcp(flow.destination, { dns, timeoutMs, signal: flow.signal, guard: flow.inbound.guard, sockets, groupBinding: flow.binding });
  }

  async listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    if (via) throw new DialError('general', `${this.name} cannot send UDP through a relay chain`);
    const binding = effectiveBinding(this.sockets, flow.binding);
    const bound = binding.interfaceName !== undefined || binding.routingMark !== undefined;
    return DirectPacketConn.open(this.dns, { guard: flow.inbound.guard, ...(bound ? { binding } : {}) });
  }

  supportsUdp(): boolean {
    return true;
  }
}
