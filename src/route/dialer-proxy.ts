/**
 * `dialer-proxy`: a proxy whose own connection to its server goes through another proxy or
 * group (mihomo's chain without a relay group). Each hop is a stream the dialer opens, so the
 * proxy can carry UDP only when it frames datagrams in its stream (VMess). A chain that comes
 * back to itself (through groups or providers) is cut after a fixed depth with a clear error.
 */
import type { Duplex } from 'node:stream';
import type { Flow } from '../adapter/flow.js';
import type { Outbound, PacketConn, StreamDialer } from '../adapter/outbound.js';
import { DialError } from '../common/errors.js';

/** Deepest chain of dialer proxies one flow may go through. */
const maxDepth = 8;

/** How deep in a dialer-proxy chain each hop's flow is. */
const depths = new WeakMap<Flow, number>();

/** True when the outbound can carry UDP over a stream another outbound opened (VMess frames datagrams in its stream). */
export function carriesUdpOverStream(outbound: Outbound): boolean {
  return outbound.type === 'Vmess' && outbound.supportsUdp();
}

/** A proxy that reaches its server through `dialer` (looked up at each dial: groups change their choice). */
export class DialerProxied implements Outbound {
  constructor(
    private readonly inner: Outbound,
    /** Name of the dialer proxy or group. */
    readonly dialerName: string,
    private readonly dialer: () => Outbound,
  ) {}

  get type(): string {
    return this.inner.type;
  }

  get name(): string {
    return this.inner.name;
  }

  get unusable(): string | undefined {
    return this.inner.unusable;
  }

  /** The chain as logs show it: the dialer, then this proxy. */
  get chain(): string {
    return `${this.dialerName}>${this.inner.name}`;
  }

  dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    return this.inner.dial(flow, this.through(flow, via));
  }

  listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    return this.inner.listenPacket(flow, this.through(flow, via));
  }

  supportsUdp(): boolean {
    return carriesUdpOverStream(this.inner);
  }

  start(): Promise<void> | void {
    return this.inner.start?.();
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  /** A dialer that opens the stream to the server through the dialer proxy (itself reached through `via`, inside a relay chain). */
  private through(flow: Flow, via: StreamDialer | undefined): StreamDialer {
    const depth = (depths.get(flow) ?? 0) + 1;
    return (to, signal) => {
      if (depth > maxDepth) return Promise.reject(new DialError('general', `proxy ${this.name}: dialer-proxy chain deeper than ${maxDepth} (does it lead back to itself?)`));
      const hop: Flow = { ...flow, destination: to, ip: undefined, domain: undefined, signal };
      depths.set(hop, depth);
      return this.dialer().dial(hop, via);
    };
  }
}
