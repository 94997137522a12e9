import type { Duplex } from 'node:stream';
import type { Address } from '../common/address.js';
import type { Flow } from './flow.js';

/** A datagram endpoint an outbound returns for UDP flows. */
export interface PacketConn {
  /** Sends one datagram to `to`; silently dropped when it cannot be delivered (UDP semantics). */
  send(data: Buffer, to: Address): void;
  /** Registers the receiver of datagrams coming back; `from` is their source. */
  onPacket(handler: (data: Buffer, from: Address) => void): void;
  /** Releases the endpoint; no packets are delivered afterwards. */
  close(): void;
  /** Registers what to call when the endpoint ends by itself (its carrier stream closed); endpoints that cannot end omit it. */
  onClose?(handler: (error?: Error) => void): void;
}

/**
 * Opens a stream to an address. A relay group passes one to each hop so that it reaches its
 * server through the hops before it; without one an outbound connects over TCP itself.
 */
export type StreamDialer = (to: Address, signal: AbortSignal) => Promise<Duplex>;

/** Something that carries flows onward: DIRECT, REJECT, a proxy, a group. */
export interface Outbound {
  /** Clash type name (`Direct`, `Reject`, `RejectDrop`, `Vmess`, `Selector`…). */
  readonly type: string;
  /** Name rules and groups refer to. */
  readonly name: string;
  /** Opens a stream to `flow.destination` (through `via` when given); rejects with a DialError. Honours `flow.signal`. */
  dial(flow: Flow, via?: StreamDialer): Promise<Duplex>;
  /** Opens a datagram endpoint for a UDP flow (through `via` when given); rejects with a DialError. */
  listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn>;
  /** True when UDP flows may be routed here (rules whose target cannot carry UDP are skipped for UDP flows). */
  supportsUdp(): boolean;
  /** Frees shared resources (caches, pools) at shutdown. */
  close?(): Promise<void>;
}

/** An outbound that hands each flow to one of its members (select, url-test, fallback, load-balance). */
export interface OutboundGroup extends Outbound {
  /** The member that carries this flow now. */
  pick(flow: Flow): Outbound;
  /** Told when a flow through the picked member failed to dial (url-test/fallback re-check at once). */
  reportFailure?(): void;
}

/** True for groups that pick a member per flow. */
export function isGroup(outbound: Outbound): outbound is OutboundGroup {
  return typeof (outbound as Partial<OutboundGroup>).pick === 'function';
}
