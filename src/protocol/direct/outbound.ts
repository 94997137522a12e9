import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn } from '../../adapter/outbound.js';
import type { DnsCache } from '../../common/dns-cache.js';
import { formatAddress } from '../../common/address.js';
import { DialError, toDialError } from '../../common/errors.js';
import { DirectPacketConn } from './packet-conn.js';

/** Connects straight to the destination: happy eyeballs over a DNS cache. */
export class DirectOutbound implements Outbound {
  readonly type = 'Direct';

  constructor(
    readonly name: string,
    private readonly dns: DnsCache,
    /** A connection attempt (DNS included) that takes longer fails with a timeout. */
    private readonly connectTimeoutMs: number,
  ) {}

  dial(flow: Flow): Promise<Duplex> {
    const { signal } = flow;
    return new Promise<Duplex>((resolve, reject) => {
      if (signal.aborted) return reject(toDialError(signal.reason));
      const socket: Socket = connect({
        host: flow.destination.host,
        port: flow.destination.port,
        lookup: this.dns.lookup,
        autoSelectFamily: true,
        allowHalfOpen: true,
        noDelay: true,
      });
      const timer = setTimeout(
        () => settle(new DialError('timeout', `connect to ${formatAddress(flow.destination)} timed out after ${this.connectTimeoutMs} ms`)),
        this.connectTimeoutMs,
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

  async listenPacket(): Promise<PacketConn> {
    return new DirectPacketConn(this.dns);
  }
}
