import type { PacketConn } from '../adapter/outbound.js';
import { IdleTimer } from './idle-timer.js';
import { IdleTimeoutError, type RelayCounters } from './relay.js';

/** Packet relay settings. */
export interface PacketRelayOptions {
  /** Ends the relay when no datagram moved either way for this long. */
  idleTimeoutMs: number;
  /** Aborting it closes both sides; the abort reason becomes the relay's error. */
  signal?: AbortSignal;
}

/**
 * Moves datagrams both ways between the client side of a UDP flow and the outbound's
 * endpoint until either side ends, the idle timeout passes, or `signal` aborts; then closes
 * both. The client's datagrams go where the client addressed them, replies go back with the
 * address they came from. Resolves (never rejects) with the reason it ended, undefined when a
 * side ended by itself.
 */
export function relayPackets(client: PacketConn, remote: PacketConn, counters: RelayCounters, options: PacketRelayOptions): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      idle.stop();
      options.signal?.removeEventListener('abort', onAbort);
      client.close();
      remote.close();
      resolve(error);
    };
    const idle = new IdleTimer(options.idleTimeoutMs, () => finish(new IdleTimeoutError(options.idleTimeoutMs)));
    const onAbort = (): void => finish(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    client.onPacket((data, to) => {
      if (done) return;
      idle.touch();
      counters.bytesUp += data.length;
      remote.send(data, to);
    });
    remote.onPacket((data, from) => {
      if (done) return;
      idle.touch();
      counters.bytesDown += data.length;
      client.send(data, from);
    });
    client.onClose?.((error) => finish(error));
    remote.onClose?.((error) => finish(error));
    if (options.signal?.aborted) onAbort();
  });
}
