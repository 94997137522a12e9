/** Typed access to the TUN addon built by node-gyp at `npm install` (native/tun.c). */
import { createRequire } from 'node:module';

/** An opaque reader handle returned by `startReading`. */
export type ReaderHandle = { readonly __reader: unique symbol };

/** The functions native/tun.c exports. */
export interface TunAddon {
  /** Opens /dev/net/tun and attaches it to (or creates) the named device; returns the fd and the kernel's name. */
  open(name: string, multiQueue: boolean): [number, string];
  /** Starts draining readable packets into `buffer` slots of `slotSize` bytes; calls `onBatch(count)` per batch. */
  startReading(fd: number, buffer: Buffer, lengths: Uint32Array, slotSize: number, onBatch: (count: number) => void): ReaderHandle;
  /** Stops watching for readability (backpressure). */
  pause(handle: ReaderHandle): void;
  /** Watches for readability again. */
  resume(handle: ReaderHandle): void;
  /** Stops the reader for good; no batch is delivered after this returns. */
  stop(handle: ReaderHandle): void;
  /** Writes one packet; returns the bytes written or a negative errno. */
  write(fd: number, buffer: Buffer, offset: number, length: number): number;
  /** Closes the device fd. */
  close(fd: number): void;
}

let cached: TunAddon | Error | undefined;

/** Loads the addon once; throws a clear error when it was not built. */
export function tunAddon(): TunAddon {
  if (cached === undefined) {
    try {
      cached = createRequire(import.meta.url)('../../../build/Release/tun.node') as TunAddon;
    } catch (error) {
      cached = new Error(`the TUN addon is not built (build/Release/tun.node): run npm install with python3, make and g++ present (${(error as Error).message})`);
    }
  }
  if (cached instanceof Error) throw cached;
  return cached;
}
