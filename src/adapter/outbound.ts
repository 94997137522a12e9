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
}

/** Something that carries flows onward: DIRECT, REJECT, a proxy, a group. */
export interface Outbound {
  /** Clash type name (`Direct`, `Reject`, `RejectDrop`, `Vmess`…). */
  readonly type: string;
  /** Name rules and groups refer to. */
  readonly name: string;
  /** Opens a stream to `flow.destination`; rejects with a DialError. Honours `flow.signal`. */
  dial(flow: Flow): Promise<Duplex>;
  /** Opens a datagram endpoint for a UDP flow; rejects with a DialError. */
  listenPacket(flow: Flow): Promise<PacketConn>;
  /** Frees shared resources (caches, pools) at shutdown. */
  close?(): Promise<void>;
}
