import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn, ProxyGroup, StreamDialer } from '../../adapter/outbound.js';
import { carriesUdpOverStream } from '../dialer-proxy.js';

/**
 * `type: relay`: a chain. Member 1 connects to member 2's server, through it member 2
 * connects to member 3's, and the last member connects to the destination.
 */
export class RelayGroup implements ProxyGroup {
  readonly type = 'Relay';
  private members: Outbound[] = [];

  constructor(
    readonly name: string,
    /** The hops in order. */
    readonly memberNames: string[],
  ) {}

  /** The hops. */
  get memberOutbounds(): readonly Outbound[] {
    return this.members;
  }

  /** Resolves member names. */
  link(outbounds: ReadonlyMap<string, Outbound>): void {
    this.members = this.memberNames.map((name) => outbounds.get(name)!);
  }

  /** The chain as logs show it: `a>b>c`. */
  get chain(): string {
    return this.memberNames.join('>');
  }

  dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    const last = this.members[this.members.length - 1]!;
    return last.dial(flow, this.dialerThrough(this.members.length - 1, flow, via));
  }

  listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    const last = this.members[this.members.length - 1]!;
    return last.listenPacket(flow, this.dialerThrough(this.members.length - 1, flow, via));
  }

  /** UDP works when the last hop can carry it over a stream (VMess can; DIRECT cannot). */
  supportsUdp(): boolean {
    const last = this.members[this.members.length - 1];
    return this.members.length === 1 ? (last?.supportsUdp() ?? false) : last !== undefined && carriesUdpOverStream(last);
  }

  /** A dialer that reaches an address through members [0, count). */
  private dialerThrough(count: number, flow: Flow, outer: StreamDialer | undefined): StreamDialer | undefined {
    if (count === 0) return outer;
    const hop = this.members[count - 1]!;
    const before = this.dialerThrough(count - 1, flow, outer);
    return (to, signal) => hop.dial({ ...flow, destination: to, ip: undefined, domain: undefined, signal }, before);
  }
}
