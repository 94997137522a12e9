import { connect, isIP, Socket } from 'node:net';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import type { DestinationGuard, Flow } from '../adapter/flow.js';
import type { StreamDialer } from '../adapter/outbound.js';
import { formatAddress, type Address } from './address.js';
import type { DnsCache } from './dns-cache.js';
import { DialError, toDialError } from './errors.js';
import { applyKeepAlive, bindingApplies, boundTcpSocket, effectiveBinding, type OutboundSockets, type SocketBinding } from './socket-options.js';

/** How to open an outgoing TCP connection. */
export interface ConnectOptions {
  /** Resolves domains (happy eyeballs gets every address). */
  dns: DnsCache;
  /** A connection attempt (DNS included) that takes longer fails with a timeout. */
  timeoutMs: number;
  /** Aborting it cancels the attempt. */
  signal: AbortSignal;
  /** Source address to bind (only destinations of its family are then tried). */
  localAddress?: string;
  /** Addresses that may not be connected to: checked on the literal, or on every address the name resolves to. */
  guard?: DestinationGuard;
  /** Keep-alive, tcp-concurrent, interface and mark (the config's top-level keys and the proxy's own); Node's defaults when absent. */
  sockets?: OutboundSockets;
  /** The `interface-name`/`routing-mark` of the groups the flow was picked through (`Flow.binding`). */
  groupBinding?: SocketBinding;
}

/** RFC 8305's connection attempt delay: the next address is tried when the last has not answered by then. */
const attemptDelayMs = 250;

/**
 * Opens a TCP connection with happy eyeballs (or, with `tcp-concurrent`, to every address at
 * once), a connect timeout and cancellation; rejects with a DialError. Keep-alive is set as
 * `sockets` says once connected.
 */
export function connectTcp(address: Address, options: ConnectOptions): Promise<Socket> {
  const { signal, guard, sockets } = options;
  if (signal.aborted) return Promise.reject(toDialError(signal.reason));
  const refused = guard && isIP(address.host) !== 0 ? guard.problem(address.host) : undefined;
  if (refused) return Promise.reject(new DialError('blocked', refused));
  const binding = effectiveBinding(sockets, options.groupBinding);
  const ownAttempts = sockets?.concurrent === true || binding.interfaceName !== undefined || (binding.routingMark ?? 0) !== 0;
  const connecting = ownAttempts ? connectAttempts(address, options, binding) : connectThroughNode(address, options);
  if (!sockets) return connecting;
  return connecting.then((socket) => {
    try {
      applyKeepAlive(socket, sockets.keepAlive);
    } catch (error) {
      socket.destroy();
      throw toDialError(error);
    }
    return socket;
  });
}

/** net.connect with its own happy eyeballs (autoSelectFamily) over the DNS cache. */
function connectThroughNode(address: Address, options: ConnectOptions): Promise<Socket> {
  const { guard } = options;
  return settleConnect(
    connect({
      host: address.host,
      port: address.port,
      lookup: guard ? guardedLookup(options.dns.lookup, guard) : options.dns.lookup,
      ...(options.localAddress ? { localAddress: options.localAddress, family: isIP(options.localAddress) } : { autoSelectFamily: true }),
      allowHalfOpen: true,
      noDelay: true,
    }),
    address,
    options.timeoutMs,
    options.signal,
  );
}

/**
 * Resolves the name, then connects to its addresses (families interleaved) one after another
 * `attemptDelayMs` apart, or all at once with `tcp-concurrent`; the first connection wins and
 * the others are closed. Each socket is bound and marked as `binding` says.
 */
async function connectAttempts(address: Address, options: ConnectOptions, binding: SocketBinding): Promise<Socket> {
  const deadline = Date.now() + options.timeoutMs;
  const ips = await resolveForConnect(address.host, options);
  if (options.signal.aborted) throw toDialError(options.signal.reason);
  const delayMs = options.sockets?.concurrent ? 0 : attemptDelayMs;
  const losers = new AbortController();
  const signal = AbortSignal.any([options.signal, losers.signal]);
  return new Promise<Socket>((resolve, reject) => {
    let failed = 0;
    let next = 0;
    let done = false;
    let stagger: NodeJS.Timeout | undefined;
    const finish = (winner: Socket | undefined, error?: unknown): void => {
      if (done) return void winner?.destroy();
      done = true;
      clearTimeout(stagger);
      losers.abort();
      if (winner) resolve(winner);
      else reject(toDialError(error));
    };
    const fail = (error: unknown): void => {
      if (++failed === ips.length) return finish(undefined, error);
      if (delayMs > 0 && next < ips.length && !done) start();
    };
    const start = (): void => {
      clearTimeout(stagger);
      const ip = ips[next++]!;
      if (delayMs > 0 && next < ips.length) stagger = setTimeout(start, delayMs);
      let socket: Socket;
      try {
        socket = bindingApplies(binding, ip) ? boundTcpSocket(binding, ip) : new Socket({ allowHalfOpen: true });
      } catch (error) {
        return fail(error);
      }
      const target = { host: ip, port: address.port, noDelay: true, ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
      settleConnect(socket.connect(target), address, Math.max(1, deadline - Date.now()), signal).then((s) => finish(s), fail);
    };
    if (delayMs > 0) start();
    else while (next < ips.length && !done) start();
  });
}

/** The addresses to try for `host`: the literal, or what it resolves to that the guard and the local address allow, families interleaved. */
async function resolveForConnect(host: string, options: ConnectOptions): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  let resolved: LookupAddress[];
  try {
    resolved = await options.dns.resolveAll(host);
  } catch (error) {
    throw toDialError(error);
  }
  const family = options.localAddress ? isIP(options.localAddress) : 0;
  const allowed = resolved.filter((a) => (family === 0 || a.family === family) && options.guard?.problem(a.address) === undefined);
  if (allowed.length === 0) {
    const problem = resolved[0] && options.guard?.problem(resolved[0].address);
    throw problem ? new DialError('blocked', `${host} resolves to ${problem}`) : new DialError('host-unreachable', `${host} has no address to connect to`);
  }
  const first = allowed.filter((a) => a.family === allowed[0]!.family);
  const other = allowed.filter((a) => a.family !== allowed[0]!.family);
  const ips: string[] = [];
  for (let i = 0; i < Math.max(first.length, other.length); i++) {
    if (first[i]) ips.push(first[i]!.address);
    if (other[i]) ips.push(other[i]!.address);
  }
  return ips;
}

/** Waits for a connecting socket: resolves when it connects; destroys it and rejects with a DialError on error, timeout or abort. */
function settleConnect(socket: Socket, address: Address, timeoutMs: number, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const timer = setTimeout(() => settle(new DialError('timeout', `connect to ${formatAddress(address)} timed out after ${timeoutMs} ms`)), timeoutMs);
    const settle = (error?: unknown): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', settle);
      if (error === undefined) return resolve(socket);
      socket.destroy();
      reject(toDialError(error));
    };
    const onConnect = (): void => settle();
    const onAbort = (): void => settle(signal.reason);
    socket.once('connect', onConnect);
    socket.once('error', settle);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A lookup that answers only the addresses `guard` allows; when it allows none, the dial
 * fails as blocked. The check is on the addresses net.connect then uses, so a name cannot be
 * rebound to a forbidden address between a check and the connect.
 */
function guardedLookup(lookup: LookupFunction, guard: DestinationGuard): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const all = addresses as unknown as LookupAddress[];
      const allowed = all.filter((a) => guard.problem(a.address) === undefined);
      if (allowed.length === 0) return callback(new DialError('blocked', `${hostname} resolves to ${guard.problem(all[0]!.address)}`) as NodeJS.ErrnoException, '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** How a proxy protocol reaches its server. */
export interface ServerConnectOptions {
  /** Resolves the server's name. */
  dns: DnsCache;
  /** Connect timeout, DNS included. */
  timeoutMs: number;
  /** Keep-alive, tcp-concurrent, interface and mark. */
  sockets?: OutboundSockets;
}

/**
 * Opens the connection a proxy protocol runs over: through `via` (the hops of a relay chain,
 * or a dialer-proxy) when given, else TCP to the server with the flow's group binding.
 */
export function connectServer(server: Address, flow: Flow, via: StreamDialer | undefined, options: ServerConnectOptions): Promise<Duplex> {
  if (via) return via(server, flow.signal);
  return connectTcp(server, { dns: options.dns, timeoutMs: options.timeoutMs, signal: flow.signal, sockets: options.sockets, groupBinding: flow.binding });
}
