import type { Duplex } from 'node:stream';
import type { Address } from '../common/address.js';
import { mergeBindings, type SocketBinding } from '../common/socket-options.js';
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
  /** Starts what runs in the background (a tunnel's handshakes, a group's health checks); called at start and after each reload, so it must be idempotent. */
  start?(): Promise<void> | void;
  /** Frees shared resources (caches, pools, timers) at shutdown, or when a reload drops it. */
  close?(): Promise<void>;
  /** For an outbound that is a chain of others: the chain as logs show it inside the target (`a>b>c`). */
  readonly chain?: string;
  /** Set when no flow can ever go through it (a proxy type sluice does not implement): why. Health checks count it as dead. */
  readonly unusable?: string;
}

/** A `proxy-groups:` entry as the controller shows and changes it (GET/PUT/DELETE /proxies/:name). */
export interface ProxyGroup extends Outbound {
  /** Member names, in order (named members, then those of its proxy providers). */
  readonly memberNames: readonly string[];
  /** The members themselves, in the same order (a provider's proxies are in no name table). */
  readonly memberOutbounds: readonly Outbound[];
  /** The member new flows use (the API's `now`); absent for groups that pick per flow or chain. */
  readonly now?: string;
  /** The pinned member of a group that allows pinning (the API's `fixed`). */
  readonly fixed?: string;
  /** Health-check URL, for groups that check their members. */
  readonly testUrl?: string;
  /** Health-check statuses that count, for groups that check their members. */
  readonly expectedStatus?: string;
  /** Chooses the member new flows use (select), or pins it while it is alive (url-test, fallback); absent when the group has no choice. */
  select?(name: string): void;
  /** `hidden`: dashboards leave it out. */
  readonly hidden?: boolean;
  /** `icon`: a picture URL dashboards show. */
  readonly icon?: string;
  /** Drops the pin (url-test, fallback); absent when the group cannot be pinned. */
  unpin?(): void;
}

/** True for `proxy-groups:` entries (anything with members). */
export function isProxyGroup(outbound: Outbound): outbound is ProxyGroup {
  return Array.isArray((outbound as Partial<ProxyGroup>).memberNames);
}

/** An outbound that hands each flow to one of its members (select, url-test, fallback, load-balance). */
export interface OutboundGroup extends Outbound {
  /** The member that carries this flow now. */
  pick(flow: Flow): Outbound;
  /** Told when a flow through the picked member failed to dial (url-test/fallback re-check at once). */
  reportFailure?(): void;
  /** `interface-name`/`routing-mark` its members dial with (set on the flows it hands them). */
  readonly binding?: SocketBinding;
}

/** True for groups that pick a member per flow. */
export function isGroup(outbound: Outbound): outbound is OutboundGroup {
  return typeof (outbound as Partial<OutboundGroup>).pick === 'function';
}

/** Records on the flow that it went through `group`: the group's interface-name/routing-mark replace those of the groups before it. */
export function bindThrough(flow: Flow, group: OutboundGroup): void {
  if (group.binding) flow.binding = mergeBindings(flow.binding, group.binding);
}
