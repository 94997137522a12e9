import type { EventBus } from '../../common/bus.js';
import type { TunOffloadStats } from '../../adapter/tun.js';
import type { HandshakeOutcome, TunnelCounters } from './engine/seams.js';

/** What metrics read from a running tunnel end (a pqtunnel proxy or gateway listener). */
export interface TunnelStatus {
  /** Proxy or listener name. */
  readonly name: string;
  /** `client`: a pqtunnel proxy; `server`: a gateway. */
  readonly role: 'client' | 'server';
  /** Sessions that can carry data now (a client has at most one). */
  sessions(): number;
  /** The engine's counters; undefined before it started. */
  counters(): TunnelCounters | undefined;
  /** Packets refused after decryption, by reason (gateways only). */
  drops?(): Readonly<Record<string, number>>;
  /** The TUN device's offload counters; undefined before it opened. */
  tunOffload(): TunOffloadStats | undefined;
}

/** True for the inbounds and outbounds that are tunnel ends. */
export function isTunnelStatus(value: object): value is TunnelStatus {
  return 'role' in value && typeof (value as Partial<TunnelStatus>).sessions === 'function' && typeof (value as Partial<TunnelStatus>).counters === 'function';
}

/** Publishes an engine's handshakes and rekeys on the bus. */
export function reportHandshakes(bus: EventBus, name: string, role: 'client' | 'server'): (outcome: HandshakeOutcome) => void {
  return (outcome) => {
    if (bus.handshakes.observed) bus.handshakes.next({ name, protocol: 'pqtunnel', role, ok: outcome.ok, ms: outcome.ms });
    if (outcome.rekey && bus.tunnels.observed) bus.tunnels.next({ name, role, kind: 'rekey', peer: outcome.peer });
  };
}
