import { connect, isIP, type Socket } from 'node:net';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { DestinationGuard } from '../adapter/flow.js';
import { formatAddress, type Address } from './address.js';
import type { DnsCache } from './dns-cache.js';
import { DialError, toDialError } from './errors.js';

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
}

/** Opens a TCP connection with happy eyeballs, a connect timeout and cancellation; rejects with a DialError. */
export function connectTcp(address: Address, options: ConnectOptions): Promise<Socket> {
  const { signal, guard } = options;
  return new Promise<Socket>((resolve, reject) => {
    if (signal.aborted) return reject(toDialError(signal.reason));
    const refused = guard && isIP(address.host) !== 0 ? guard.problem(address.host) : undefined;
    if (refused) return reject(new DialError('blocked', refused));
    const socket = connect({
      host: address.host,
      port: address.port,
      lookup: guard ? guardedLookup(options.dns.lookup, guard) : options.dns.lookup,
      ...(options.localAddress ? { localAddress: options.localAddress, family: isIP(options.localAddress) } : { autoSelectFamily: true }),
      allowHalfOpen: true,
      noDelay: true,
    });
    const timer = setTimeout(
      () => settle(new DialError('timeout', `connect to ${formatAddress(address)} timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
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
