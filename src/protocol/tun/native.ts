/** Typed access to the TUN addon built by node-gyp at `npm install` (native/tun.c, native/offload.c). */
import { loadAddon } from '../../common/addon.js';

/** An opaque reader handle returned by `startReading`. */
export type ReaderHandle = { readonly __reader: unique symbol };

/** Indices into the Float64Array of counters the addon updates (`stats` arguments; enum in native/tun.c). */
export const tunStat = {
  /** TCP super-packets read (kernel TSO). */
  superPacketsRead: 0,
  /** Segments the super-packets were cut into. */
  segmentsRead: 1,
  /** Reads dropped as malformed or larger than a slot. */
  readsDropped: 2,
  /** write/writev system calls. */
  writes: 3,
  /** Packets the kernel took. */
  packetsWritten: 4,
  /** Packets the kernel refused. */
  writesRefused: 5,
} as const;

/** Length of a `stats` array. */
export const tunStatCount = 6;

/** The functions native/tun.c exports. */
export interface TunAddon {
  /**
   * Opens /dev/net/tun and attaches it to (or creates) the named device. With `offload` the fd
   * carries virtio-net headers and asks for TCP segmentation offload; returns the fd, the
   * kernel's name, whether virtio-net headers are on and whether the kernel took TSO.
   */
  open(name: string, multiQueue: boolean, offload: boolean): [fd: number, name: string, vnetHeader: boolean, tcpOffload: boolean];
  /**
   * Starts draining readable packets into `buffer` slots of `slotSize` bytes and calls
   * `onBatch(count)` per batch; with `vnet`, super-packets arrive cut into segments with
   * complete checksums. `stats` (a Float64Array of tunStatCount) is updated in place.
   */
  startReading(fd: number, vnet: boolean, buffer: Buffer, lengths: Uint32Array, slotSize: number, stats: Float64Array, onBatch: (count: number) => void): ReaderHandle;
  /** Stops watching for readability (backpressure). */
  pause(handle: ReaderHandle): void;
  /** Watches for readability again. */
  resume(handle: ReaderHandle): void;
  /** Stops the reader for good; no batch is delivered after this returns. */
  stop(handle: ReaderHandle): void;
  /**
   * Writes `count` packets (packet i: `lengths[i]` bytes at `i * slotSize`); with `vnet`,
   * consecutive TCP segments of a flow go to the kernel as one super-packet (their headers are
   * rewritten in place). Returns how many packets the kernel took.
   */
  writeBatch(fd: number, vnet: boolean, buffer: Buffer, lengths: Uint32Array, slotSize: number, count: number, stats: Float64Array): number;
  /** The codec under `startReading`: one read (virtio-net header first) as plain packets; null when malformed. */
  segment(packet: Buffer, slotSize: number): Buffer[] | null;
  /** The codec under `writeBatch`: the writes (each with its virtio-net header) it would make. */
  coalesce(buffer: Buffer, lengths: Uint32Array, slotSize: number, count: number): Buffer[];
  /** Closes the device fd. */
  close(fd: number): void;
}

/** Loads the addon once; throws a clear error when it was not built. */
export function tunAddon(): TunAddon {
  return loadAddon<TunAddon>('tun');
}
