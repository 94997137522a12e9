import type { Duplex } from 'node:stream';
import { SluiceError } from './errors.js';
import { IdleTimer } from './idle-timer.js';

/** Byte counters the relay increments as data passes. */
export interface RelayCounters {
  /** Bytes read from the client side and written to the remote side. */
  bytesUp: number;
  /** Bytes read from the remote side and written to the client side. */
  bytesDown: number;
}

/** Relay settings. */
export interface RelayOptions {
  /** Ends the relay when no byte moved either way for this long. */
  idleTimeoutMs: number;
  /** Aborting it destroys both sides; the abort reason becomes the relay's error. */
  signal?: AbortSignal;
  /** Bytes the client sent before the relay started (read during the handshake), sent to `remote` first. */
  head?: Buffer;
}

/** Raised when a relay ends because neither side sent anything for the idle timeout. */
export class IdleTimeoutError extends SluiceError {
  constructor(ms: number) {
    super('SLUICE_IDLE_TIMEOUT', `idle for ${Math.round(ms / 1000)} s`);
  }
}

/**
 * Copies bytes both ways between `client` and `remote` until both have closed.
 *
 * Backpressure: a side is paused while the other side's write buffer is full.
 * Half-close: the end of one side's input ends the other side's output only, the other
 * direction keeps flowing. An error or an abrupt close of either side destroys both.
 * Resolves (never rejects) with the first error, or undefined for a clean end.
 */
export function relay(client: Duplex, remote: Duplex, counters: RelayCounters, options: RelayOptions): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let firstError: Error | undefined;
    let open = 2;

    const fail = (error: Error): void => {
      firstError ??= error;
      client.destroy();
      remote.destroy();
    };

    const idle = new IdleTimer(options.idleTimeoutMs, () => fail(new IdleTimeoutError(options.idleTimeoutMs)));

    const onAbort = (): void => fail(toError(options.signal?.reason));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (): void => {
      idle.stop();
      options.signal?.removeEventListener('abort', onAbort);
      resolve(firstError);
    };

    const pump = (from: Duplex, to: Duplex, count: (n: number) => void): void => {
      if (from.destroyed) {
        // Closed while the other side was being dialed: nothing to relay.
        fail(firstError ?? new Error('connection closed abruptly'));
        if (--open === 0) finish();
        return;
      }
      if (from.readableEnded) to.end();
      from.on('data', (chunk: Buffer) => {
        count(chunk.length);
        idle.touch();
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => from.resume());
      from.on('end', () => to.end());
      from.on('error', fail);
      from.on('close', () => {
        // A side that closed without finishing both directions cleanly takes the other down with it;
        // a clean close leaves the other side to flush its last bytes and close by itself.
        if (!(from.readableEnded && from.writableFinished)) {
          fail(firstError ?? new Error('connection closed abruptly'));
        }
        if (--open === 0) finish();
      });
    };

    if (options.head && options.head.length > 0) {
      counters.bytesUp += options.head.length;
      remote.write(options.head);
    }
    pump(client, remote, (n) => (counters.bytesUp += n));
    pump(remote, client, (n) => (counters.bytesDown += n));
    if (options.signal?.aborted) onAbort();
    client.resume();
    remote.resume();
  });
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
}
