/**
 * A TUN device (tun.md §4.3): packets in batches from the addon's poll watcher, packets out in
 * batches gathered over one event-loop turn. With TCP offload on, the kernel hands us and takes
 * 64 KiB TCP super-packets; the addon cuts and merges them, so callers only ever see ordinary
 * IP packets. Creating a device needs CAP_NET_ADMIN; the error says so.
 */
import type { PacketBatchHandler, TunDevice, TunOffloadStats } from '../../adapter/tun.js';
import { tunAddon, tunStat, tunStatCount, type ReaderHandle, type TunAddon } from './native.js';

const batchSlots = 64;

/** Explains an open failure in terms of what is missing. */
function openError(error: NodeJS.ErrnoException, name: string): Error {
  const reason =
    error.code === 'EPERM' || error.code === 'EACCES'
      ? 'permission denied: creating a TUN device needs root or CAP_NET_ADMIN (or a persistent device owned by this user)'
      : error.code === 'ENOENT' || error.code === 'ENODEV'
        ? '/dev/net/tun is missing: load the tun kernel module (modprobe tun) or give the container the device'
        : error.code === 'EBUSY'
          ? `the name ${name} is taken by a device of another type`
          : error.message;
  return new Error(`cannot open TUN device ${name || '(any)'}: ${reason}`, { cause: error });
}

/** One open TUN device of the kernel, through native/tun.c. */
export class NativeTunDevice implements TunDevice {
  private reader: ReaderHandle | undefined;
  private closed = false;
  private readonly stats = new Float64Array(tunStatCount);
  private readonly slotSize: number;
  private readonly pending: Buffer;
  private readonly pendingLengths = new Uint32Array(batchSlots);
  private pendingCount = 0;
  private flushScheduled = false;

  private constructor(
    private readonly addon: TunAddon,
    private readonly fd: number,
    /** The interface name the kernel gave the device. */
    readonly name: string,
    /** Largest packet read or written (the device MTU). */
    readonly mtu: number,
    /** Whether the fd carries virtio-net headers. */
    private readonly vnet: boolean,
    /** Whether the kernel took TCP segmentation offload. */
    private readonly tcpOffload: boolean,
  ) {
    this.slotSize = mtu + 64;
    this.pending = Buffer.alloc(this.slotSize * batchSlots);
  }

  /**
   * Creates (or attaches to) a TUN device called `name` ('' lets the kernel pick tunN). With
   * `offload` (the default) the device does TCP segmentation offload both ways when the kernel
   * allows it, and falls back silently to one packet per read and write when it does not.
   */
  static open(name: string, mtu: number, offload = true): NativeTunDevice {
    const addon = tunAddon();
    try {
      const [fd, actual, vnet, tcpOffload] = addon.open(name, false, offload);
      return new NativeTunDevice(addon, fd, actual, mtu, vnet, tcpOffload);
    } catch (error) {
      throw openError(error as NodeJS.ErrnoException, name);
    }
  }

  /** Starts delivering packets read from the device to `handler`, in batches of up to 64. */
  onPackets(handler: PacketBatchHandler): void {
    if (this.reader || this.closed) throw new Error(`TUN ${this.name}: already reading or closed`);
    const slot = this.slotSize;
    const buffer = Buffer.alloc(slot * batchSlots);
    const lengths = new Uint32Array(batchSlots);
    const views: Buffer[] = [];
    this.reader = this.addon.startReading(this.fd, this.vnet, buffer, lengths, slot, this.stats, (count) => {
      views.length = count;
      for (let i = 0; i < count; i++) views[i] = buffer.subarray(i * slot, i * slot + lengths[i]!);
      handler(views);
    });
  }

  /** Stops reading until `resume` (backpressure). */
  pause(): void {
    if (this.reader) this.addon.pause(this.reader);
  }

  /** Reads again after `pause`. */
  resume(): void {
    if (this.reader) this.addon.resume(this.reader);
  }

  /**
   * Queues one IP packet (copied; the caller may reuse its buffer) for the batch written at the
   * end of this event-loop turn, or at once when the batch is full. Packets the kernel refuses
   * (link down, queue full) and packets longer than the MTU plus 64 bytes (no tunnel peer sends
   * those) are counted in offloadStats().dropped.
   */
  write(packet: Buffer): void {
    if (this.closed) return;
    if (packet.length > this.slotSize) {
      this.stats[tunStat.writesRefused]++;
      return;
    }
    if (this.pendingCount === batchSlots) this.flush();
    packet.copy(this.pending, this.pendingCount * this.slotSize);
    this.pendingLengths[this.pendingCount++] = packet.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushTurn);
    }
  }

  private readonly flushTurn = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Writes the queued packets now. */
  flush(): void {
    if (this.pendingCount === 0 || this.closed) return;
    this.addon.writeBatch(this.fd, this.vnet, this.pending, this.pendingLengths, this.slotSize, this.pendingCount, this.stats);
    this.pendingCount = 0;
  }

  /** Counters of the offload path (all zero but the writes when the kernel refused offload). */
  offloadStats(): TunOffloadStats {
    const stats = this.stats;
    return {
      enabled: this.tcpOffload,
      superPacketsRead: stats[tunStat.superPacketsRead]!,
      segmentsRead: stats[tunStat.segmentsRead]!,
      writes: stats[tunStat.writes]!,
      packetsWritten: stats[tunStat.packetsWritten]!,
      dropped: stats[tunStat.writesRefused]! + stats[tunStat.readsDropped]!,
    };
  }

  /** Writes what is queued, stops reading and closes the fd; the kernel removes a non-persistent device with its routes. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.reader) this.addon.stop(this.reader);
    this.addon.close(this.fd);
  }
}
