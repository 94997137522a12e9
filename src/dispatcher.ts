import type { Duplex } from 'node:stream';
import type { Flow, FlowRequest } from './adapter/flow.js';
import { bindThrough, type PacketConn } from './adapter/outbound.js';
import type { Decision, Router } from './adapter/router.js';
import type { InboundConn, InboundPacketConn } from './adapter/inbound.js';
import { hostProblem, ipFamily, normalizeHost, type Address } from './common/address.js';
import type { EventBus, HandshakeEvent, Totals } from './common/bus.js';
import { DialError, SluiceError, toDialError } from './common/errors.js';
import { relayPackets } from './common/packet-relay.js';
import { IdleTimeoutError, relay } from './common/relay.js';
import type { SnifferConfig } from './config/types.js';
import { Sniffer, type SniffClient } from './route/sniff/sniffer.js';
import { routeByName, type AddressNames } from './dns/flow-names.js';

/** Flow-level time limits, in milliseconds. */
export interface FlowTimeouts {
  /** A TCP flow with no byte either way for this long is closed. */
  tcpIdleMs: number;
  /** A UDP destination (and an association) with no datagram for this long is closed. */
  udpIdleMs: number;
}

interface Entry {
  flow: Flow;
  abort: AbortController;
}

/** The reason a flow is aborted at shutdown. */
export class ShutdownError extends SluiceError {
  constructor() {
    super('SLUICE_SHUTDOWN', 'sluice is shutting down');
  }
}

/**
 * Owns every flow's life, for every inbound: open → sniff → route → dial → accept/reject →
 * relay → close, exactly once, telling the bus at each step (the flow log writes the line).
 * Inbounds parse their handshake and call `handleTcp` or `handleUdp`; nothing else.
 */
export class Dispatcher {
  private nextId = 1;
  private readonly flows = new Map<number, Entry>();
  private idleWaiters: (() => void)[] = [];
  private readonly stop = new AbortController();
  private closedUp = 0;
  private closedDown = 0;

  private sniffer: Sniffer | undefined;
  /** The DNS module: names behind the addresses it answered (fake-ip, redir-host). */
  names: AddressNames | undefined;
  /** Sniffing on or off for new flows (PATCH /configs `sniffing`); only matters when `sniffer:` is configured. */
  sniffing: boolean;

  constructor(
    private router: Router,
    /** Where flow and handshake events go. */
    readonly bus: EventBus,
    /** Time limits applied to every flow. */
    readonly timeouts: FlowTimeouts,
    sniffing?: SnifferConfig,
  ) {
    this.sniffer = sniffing ? new Sniffer(sniffing) : undefined;
    this.sniffing = this.sniffer !== undefined;
  }

  /** Routes new flows with another router and sniffer settings (config reload); open flows are not touched. */
  use(router: Router, sniffing: SnifferConfig | undefined): void {
    this.router = router;
    this.sniffer = sniffing ? new Sniffer(sniffing) : undefined;
    this.sniffing = this.sniffer !== undefined;
  }

  /** Aborted when the grace period of a shutdown is over; long-lived sessions (UDP associations) end on it. */
  get stopping(): AbortSignal {
    return this.stop.signal;
  }

  /** Number of flows not yet closed. */
  get activeCount(): number {
    return this.flows.size;
  }

  /** The open flows, oldest first. */
  active(): Flow[] {
    return [...this.flows.values()].map((entry) => entry.flow);
  }

  /** Bytes moved since start, closed flows included. */
  totals(): Totals {
    let up = this.closedUp;
    let down = this.closedDown;
    for (const { flow } of this.flows.values()) {
      up += flow.bytesUp;
      down += flow.bytesDown;
    }
    return { up, down };
  }

  /** Called by listeners when a handshake succeeds or fails. */
  reportHandshake(event: HandshakeEvent): void {
    if (this.bus.handshakes.observed) this.bus.handshakes.next(event);
  }

  /** Ends an open flow (the controller's DELETE /connections/:id); false when there is none. */
  abortFlow(id: number, reason: Error): boolean {
    const entry = this.flows.get(id);
    entry?.abort.abort(reason);
    return entry !== undefined;
  }

  /**
   * Runs a TCP flow from start to end: opens it, sniffs its first bytes when the settings
   * ask for it, routes, dials, has the inbound reply (`conn.accept` or `conn.reject`; a
   * REJECT-DROP, or a failure after an early accept, only closes), relays until both sides
   * close, and closes the flow. Resolves when the flow has ended; never rejects.
   */
  async handleTcp(request: FlowRequest, conn: InboundConn): Promise<void> {
    const flow = this.open(request);
    const client: SniffClient = {
      stream: conn.stream,
      head: conn.head,
      accepted: false,
      acceptEarly() {
        this.accepted = true;
        conn.accept();
      },
    };
    let remote: Duplex;
    try {
      remote = await this.connect(flow, client);
    } catch (error) {
      const failure = (error as DialError).failure;
      if (failure === 'dropped' || client.accepted) conn.stream.destroy();
      else conn.reject(failure, error as Error);
      return;
    }
    if (!client.accepted) conn.accept(localAddressOf(remote));
    const head = client.head.length > 0 ? client.head : undefined;
    const error = await relay(conn.stream, remote, flow, { idleTimeoutMs: this.timeouts.tcpIdleMs, signal: flow.signal, head });
    this.close(flow, error);
  }

  /**
   * Runs a UDP flow from start to end: opens it, routes, opens the outbound's datagram
   * endpoint (`client.reject` when that fails), relays datagrams until either side ends or
   * the flow is idle, and closes the flow. Resolves when the flow has ended; never rejects.
   */
  async handleUdp(request: FlowRequest, client: InboundPacketConn): Promise<void> {
    const flow = this.open(request);
    let remote: PacketConn;
    try {
      remote = await this.listenPacket(flow);
    } catch (error) {
      client.reject(error instanceof DialError ? error.failure : 'general', error as Error);
      return;
    }
    const error = await relayPackets(client, remote, flow, { idleTimeoutMs: this.timeouts.udpIdleMs, signal: flow.signal });
    // A UDP flow has no end of its own: going idle is how it normally ends.
    this.close(flow, error instanceof IdleTimeoutError ? undefined : error);
  }

  /** Registers a new flow; the destination is normalized and an IP literal becomes `flow.ip`. */
  private open(request: FlowRequest): Flow {
    const abort = new AbortController();
    const host = normalizeHost(request.destination.host);
    const flow: Flow = {
      id: this.nextId++,
      network: request.network,
      inbound: request.inbound,
      source: request.source,
      destination: { host, port: request.destination.port },
      user: request.user,
      bytesUp: 0,
      bytesDown: 0,
      start: Date.now(),
      signal: abort.signal,
    };
    if (ipFamily(host) !== 0) flow.ip = host;
    this.flows.set(flow.id, { flow, abort });
    if (this.bus.flows.observed) this.bus.flows.next({ kind: 'open', flow });
    return flow;
  }

  /**
   * Routes and dials a TCP flow; the flow's first bytes may be sniffed first (see
   * SniffClient). On failure the flow is closed (and logged) and a DialError thrown.
   */
  private async connect(flow: Flow, client: SniffClient): Promise<Duplex> {
    // A client that goes away while we dial ends the flow now, not at the connect timeout.
    const abandoned = (): void => void this.abortFlow(flow.id, new Error('the client closed before the connection was made'));
    if (client.stream.destroyed) abandoned();
    client.stream.once('close', abandoned);
    try {
      if (this.names) routeByName(flow, this.names);
      checkDestination(flow);
      if (this.sniffer && this.sniffing) await this.sniffer.apply(flow, client);
      const decision = await this.route(flow);
      return await decision.outbound.dial(flow).catch((error: unknown) => {
        for (const group of decision.groups) group.reportFailure?.();
        throw error;
      });
    } catch (error) {
      const dialError = toDialError(error);
      this.close(flow, dialError);
      throw dialError;
    } finally {
      client.stream.off('close', abandoned);
    }
  }

  /** Routes a UDP flow and opens its datagram endpoint. On failure the flow is closed and a DialError thrown. */
  private async listenPacket(flow: Flow): Promise<PacketConn> {
    try {
      checkDestination(flow);
      const decision = await this.route(flow);
      return await decision.outbound.listenPacket(flow).catch((error: unknown) => {
        for (const group of decision.groups) group.reportFailure?.();
        throw error;
      });
    } catch (error) {
      const dialError = toDialError(error);
      this.close(flow, dialError);
      throw dialError;
    }
  }

  /** Records that a flow has ended: forgets it and tells the bus. Later calls do nothing. */
  private close(flow: Flow, error?: Error): void {
    if (!this.flows.delete(flow.id)) return;
    this.closedUp += flow.bytesUp;
    this.closedDown += flow.bytesDown;
    if (this.bus.flows.observed) this.bus.flows.next({ kind: 'close', flow, error });
    if (this.flows.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Waits up to `graceMs` for open flows to finish, then aborts the rest and waits for them to close. */
  async drain(graceMs: number): Promise<void> {
    if (this.flows.size > 0) await this.waitIdle(graceMs);
    this.stop.abort(new ShutdownError());
    if (this.flows.size === 0) return;
    for (const { abort } of this.flows.values()) abort.abort(new ShutdownError());
    await this.waitIdle(1000);
  }

  private async route(flow: Flow): Promise<Decision> {
    const decision = await this.router.decide(flow);
    this.router.recordDecision?.(decision);
    for (const group of decision.groups) bindThrough(flow, group);
    const { rule } = decision;
    flow.decision = {
      rule: rule?.toString() ?? '',
      matched: rule && { type: rule.type, payload: rule.payload },
      chain: decision.chain,
      chains: [decision.outbound.name, ...decision.groups.map((g) => g.name).reverse()],
    };
    if (this.bus.flows.observed) this.bus.flows.next({ kind: 'routed', flow });
    return decision;
  }

  private waitIdle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.idleWaiters.push(() => (clearTimeout(timer), resolve()));
    });
  }
}

/**
 * Every inbound's destination is checked here, before sniffing and routing: a name outside
 * the hostname alphabet is refused (SOCKS REP 0x04, HTTP 400, VMess close).
 */
function checkDestination(flow: Flow): void {
  const problem = hostProblem(flow.destination.host);
  if (problem) throw new DialError('invalid-destination', `invalid destination: ${problem}`);
}

/** The outbound connection's local address (a socket's), for the SOCKS5 reply's BND.ADDR; undefined for other streams. */
function localAddressOf(remote: Duplex): Address | undefined {
  if (!('localAddress' in remote) || typeof remote.localAddress !== 'string' || !('localPort' in remote)) return undefined;
  return { host: normalizeHost(remote.localAddress), port: Number(remote.localPort) };
}
