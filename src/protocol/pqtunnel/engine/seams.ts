/** The engine's seams to the OS (spec test plan: fakes of both run a client and a gateway in one process). */

/** A UDP peer address. */
export interface Endpoint {
  /** IP literal. */
  host: string;
  /** UDP port. */
  port: number;
}

/** The UDP socket the engine sends and receives tunnel messages on. */
export interface Bind {
  /** Sends one datagram; delivery is best effort. */
  send(datagram: Buffer, to: Endpoint): void;
  /** Registers the receiver of incoming datagrams. */
  onReceive(handler: (datagram: Buffer, from: Endpoint) => void): void;
  /** Stops receiving and releases the socket. */
  close(): void;
}

/** Time for the engine: a monotonic clock for timers, the wall clock for TAI64N, and ticks. */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock milliseconds since the epoch. */
  wallMs(): number;
  /** Calls `tick` every `ms` until the returned function is called. */
  every(ms: number, tick: () => void): () => void;
}

/** The real clock: performance.now, Date.now, an unref'd interval. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallMs: () => Date.now(),
  every(ms, tick) {
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** Timer constants of spec §6.1, in milliseconds. */
export const Timers = {
  rekeyAfterMessages: 2 ** 48,
  rekeyAfterTime: 120_000,
  rejectAfterTime: 180_000,
  rekeyAttemptTime: 90_000,
  rekeyTimeout: 5_000,
  rekeyJitter: 333,
  keepaliveTimeout: 10_000,
  cookieSecretLifetime: 120_000,
  keyZeroizeTime: 540_000,
  maxFutureSkew: 180_000,
  initiationFloodInterval: 20,
} as const;

/** What an engine has done since it started: plain counters, read when metrics are scraped (handshakes are events: see `HandshakeOutcome`). */
export interface TunnelCounters {
  /** Data messages (keepalives included) sealed and sent. */
  packetsSent: number;
  /** Data messages authenticated and accepted. */
  packetsReceived: number;
  /** UDP payload bytes of the data messages sent. */
  bytesSent: number;
  /** UDP payload bytes of the data messages accepted. */
  bytesReceived: number;
  /** Data messages dropped: no session for their index, or failed authentication, replay or age checks. */
  packetsRejected: number;
  /** Cookie replies sent (gateway) or accepted (client). */
  cookies: number;
}

/** All counters at zero. */
export function zeroCounters(): TunnelCounters {
  return { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0, packetsRejected: 0, cookies: 0 };
}

/** A handshake that completed or failed, as an engine reports it. */
export interface HandshakeOutcome {
  /** True when a session resulted. */
  ok: boolean;
  /** Client: initiation sent → response accepted (or → given up); gateway: work done on the initiation. */
  ms: number;
  /** True when the new session replaces a working one. */
  rekey: boolean;
  /** The client it was with (gateway only; unset when the initiation named no known client). */
  peer?: string;
}
