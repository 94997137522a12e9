import { defer, interval, map, type Observable, share, Subject } from 'rxjs';
import type { Flow } from '../adapter/flow.js';
import type { LogEvent } from './log.js';

/** A flow opened, routed or closed. */
export interface FlowEvent {
  /** What happened: `routed` once the router chose its outbound (the flow's `rule` is set then). */
  kind: 'open' | 'routed' | 'close';
  /** The flow (counters final on close). */
  flow: Flow;
  /** Why it ended, when it ended with an error. */
  error?: Error;
}

/** One handshake's outcome: an inbound client's, or a tunnel's (either end). */
export interface HandshakeEvent {
  /** Listener or proxy name. */
  name: string;
  /** Protocol (`socks`, `http`, `mixed`, `vmess`, `pqtunnel`). */
  protocol: string;
  /** `server`: we answered it (listeners, the tunnel gateway); `client`: we started it (tunnel client). */
  role: 'server' | 'client';
  /** True when it completed; false for a close, a timeout or a rejection. */
  ok: boolean;
  /** Milliseconds it took (accept to done; initiation to response; work done for one initiation). */
  ms: number;
}

/** A tunnel session came up, went down or was replaced by a fresh one. */
export interface TunnelEvent {
  /** Proxy or gateway listener name. */
  name: string;
  /** Which end we are. */
  role: 'server' | 'client';
  /** `up`/`down`: the client's tunnel state; `rekey`: a new session replaced a working one. */
  kind: 'up' | 'down' | 'rekey';
  /** The peer, on a gateway. */
  peer?: string;
}

/** Bytes moved during the last second, and since start. */
export interface TrafficSample {
  /** Bytes client → destination in the last second. */
  up: number;
  /** Bytes destination → client in the last second. */
  down: number;
  /** Bytes client → destination since start. */
  upTotal: number;
  /** Bytes destination → client since start. */
  downTotal: number;
}

/** Byte totals since start. */
export interface Totals {
  /** Client → destination. */
  up: number;
  /** Destination → client. */
  down: number;
}

/**
 * The one event stream of a running sluice. Producers (dispatcher, listeners, tunnels, the
 * logger) push into its subjects and check `observed` first, so nothing is built while nobody
 * listens; consumers (the flow log, metrics, the controller's streams) subscribe. Subjects are
 * synchronous and keep no history: a slow consumer must drop (the controller's sinks do), it
 * cannot make the bus buffer.
 */
export class EventBus {
  /** Flows opened, routed and closed. */
  readonly flows = new Subject<FlowEvent>();
  /** Handshakes, successful or not. */
  readonly handshakes = new Subject<HandshakeEvent>();
  /** Tunnel state changes and rekeys. */
  readonly tunnels = new Subject<TunnelEvent>();
  /** Per-second traffic; one timer however many subscribers, none without them. */
  readonly traffic: Observable<TrafficSample>;

  constructor(
    /** Log records (the logger publishes here). */
    readonly logs: Subject<LogEvent>,
    /** Byte totals, read once a second while `traffic` has subscribers. */
    totals: () => Totals,
  ) {
    this.traffic = defer(() => {
      let last = totals();
      return interval(1000).pipe(
        map((): TrafficSample => {
          const now = totals();
          const sample = { up: now.up - last.up, down: now.down - last.down, upTotal: now.up, downTotal: now.down };
          last = now;
          return sample;
        }),
      );
    }).pipe(share());
  }
}
