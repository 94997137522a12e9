import { connect, isIP, type Socket } from 'node:net';
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
}

/** Opens a TCP connection with happy eyeballs, a connect timeout and cancellation; rejects with a DialError. */
export function connectTcp(address: Address, options: ConnectOptions): Promise<Socket> {
  const { signal } = options;
  return new Promise<Socket>((resolve, reject) => {
    if (signal.aborted) return reject(toDialError(signal.reason));
    const socket = connect({
      host: address.host,
      port: address.port,
      lookup: options.dns.lookup,
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
