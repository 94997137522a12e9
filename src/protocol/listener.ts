import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { DestinationGuard } from '../adapter/flow.js';
import type { Inbound } from '../adapter/inbound.js';
import type { InboundDeps, InboundRegistration } from '../adapter/registration.js';
import type { ListenerConfig, ProxyListenerConfig } from '../config/types.js';
import type { ClientAccess } from '../common/client-access.js';
import { normalizeHost, type Address } from '../common/address.js';
import type { UserTable } from '../common/auth.js';
import { HandshakeClosedError, HandshakeReader } from '../common/handshake-reader.js';
import { describeError } from '../common/errors.js';
import { endThenDestroy } from '../common/end-then-destroy.js';
import type { Logger } from '../common/log.js';
import type { Dispatcher } from '../dispatcher.js';

/** What every TCP listener needs to know, built from its config entry. */
export interface ListenerContext {
  /** Listener name (IN-NAME, logs). */
  name: string;
  /** Config type: `socks`, `http`, `mixed`. */
  type: string;
  /** Address to bind. */
  listen: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Where accepted flows go. */
  dispatcher: Dispatcher;
  /** Log output. */
  logger: Logger;
  /** When set, clients must authenticate with one of these users. */
  users?: UserTable;
  /** A client that has not finished its handshake in this time is disconnected. */
  handshakeTimeoutMs: number;
  /** An HTTP client idle between requests is disconnected after this. */
  keepAliveMs: number;
  /** Whether SOCKS5 UDP ASSOCIATE is offered. */
  udp: boolean;
  /** What DIRECT may not dial for this listener's clients; none for a local listener. */
  guard?: DestinationGuard;
  /** Which clients may connect (lan-allowed-ips) and which skip authentication. */
  access: ClientAccess;
}

/** Per-connection hooks a protocol handler gets from the listener. */
export interface Session {
  /** The listener's settings. */
  readonly context: ListenerContext;
  /** The port the listener is bound to (known once it listens, so no getsockname per connection). */
  readonly port: number;
  /** Tells the listener the handshake is over: the handshake timeout stops and the flow owns the socket. */
  handshakeDone(): void;
}

/** Serves one accepted connection: runs the handshake, then hands the socket to the dispatcher. */
export type ConnectionHandler = (socket: Socket, reader: HandshakeReader, session: Session) => Promise<void>;

/** A TCP listener that runs a protocol handler per connection, with a handshake timeout. */
export class TcpListener implements Inbound {
  private readonly server: Server;
  private readonly handshaking = new Set<Socket>();
  private boundPort = 0;

  constructor(
    private readonly context: ListenerContext,
    private readonly handler: ConnectionHandler,
  ) {
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
  }

  get name(): string {
    return this.context.name;
  }

  get type(): string {
    return this.context.type;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.context.listen, port: this.context.port }, () => {
        this.server.off('error', reject);
        this.boundPort = this.address().port;
        this.server.on('error', (error) => this.context.logger.error(`listener ${this.name}: ${describeError(error)}`));
        resolve();
      });
    });
  }

  close(): Promise<void> {
    for (const socket of this.handshaking) socket.destroy();
    this.handshaking.clear();
    // Stop accepting now. Net's close callback would wait for every accepted connection, and
    // those are flows the dispatcher drains (and aborts after the grace period) itself.
    if (this.server.listening) this.server.close();
    return Promise.resolve();
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {});
    const client = normalizeHost(socket.remoteAddress ?? '');
    if (!this.context.access.admits(client)) {
      this.context.logger.debug(`${this.name}: refused ${client}: not in lan-allowed-ips, or in lan-disallowed-ips`);
      this.context.dispatcher.reportHandshake({ name: this.name, protocol: this.type, role: 'server', ok: false, ms: 0 });
      return void socket.destroy();
    }
    this.handshaking.add(socket);
    const started = performance.now();
    const timer = setTimeout(() => socket.destroy(), this.context.handshakeTimeoutMs);
    let settled = false;
    // The handler calls handshakeDone on success; a connection that ends before that failed its handshake.
    const settle = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.handshaking.delete(socket);
      this.context.dispatcher.reportHandshake({ name: this.name, protocol: this.type, role: 'server', ok, ms: performance.now() - started });
    };
    const reader = new HandshakeReader(socket);
    this.handler(socket, reader, { context: this.context, port: this.boundPort, handshakeDone: () => settle(true) })
      .catch((error: unknown) => {
        if (!(error instanceof HandshakeClosedError)) {
          this.context.logger.debug(`${this.name}: handshake from ${socket.remoteAddress} failed: ${describeError(error)}`);
        }
        socket.destroy();
      })
      .finally(() => settle(false));
  }
}

/** Writes a final reply, half-closes, and destroys the socket if the client does not close soon. */
export function replyAndClose(socket: Socket, reply: Buffer | string): void {
  endThenDestroy(socket, 2000, reply);
  socket.resume();
}

/** The users a client must authenticate as: none when the listener has none or the client is in skip-auth-prefixes. */
export function usersFor(session: Session, socket: Socket): UserTable | undefined {
  const { users, access } = session.context;
  return users && !access.skipsAuth(normalizeHost(socket.remoteAddress ?? '')) ? users : undefined;
}

/** The client's address as the listener saw it. */
export function sourceOf(socket: Socket): Address {
  return { host: normalizeHost(socket.remoteAddress ?? '0.0.0.0'), port: socket.remotePort ?? 0 };
}

/** A TcpListener for `listener` running `handler`, with the settings every TCP protocol shares. */
export function tcpListener(listener: ListenerConfig, deps: InboundDeps, handler: ConnectionHandler, users?: UserTable, udp = true): TcpListener {
  const { name, type, listen, port } = listener;
  const { dispatcher, logger, timeouts, guard, access } = deps;
  const context = { name, type, listen, port, users, udp, dispatcher, logger, guard, access, handshakeTimeoutMs: timeouts.handshakeMs, keepAliveMs: timeouts.httpKeepAliveMs };
  return new TcpListener(context, handler);
}

/** The registration of a SOCKS5, HTTP or mixed listener: its own `users:` or the top-level `authentication:`, UDP unless `udp: false`. */
export function proxyListener(type: ProxyListenerConfig['type'], handler: ConnectionHandler): InboundRegistration<ProxyListenerConfig> {
  return {
    clients: 'proxy-users',
    defaultListen: '127.0.0.1',
    options: ({ raw }, { base, globalUsers }) => {
      const entryUsers = raw.users as { username: string; password: string }[] | undefined;
      const users = entryUsers ? new Map(entryUsers.map((u) => [u.username, u.password])) : globalUsers;
      return { ...base, type, users, udp: (raw.udp as boolean | undefined) ?? true };
    },
    create: (listener, deps) => tcpListener(listener, deps, handler, listener.users, listener.udp),
  };
}
