/**
 * A TUN device (tun.md §4.3): packets in batches from the addon's poll watcher, packets out
 * one by one or in batches. Creating a device needs CAP_NET_ADMIN; the error says so.
 */
import { tunAddon, type ReaderHandle, type TunAddon } from './native.js';

/** Receives a batch: `packets[i]` views a reused slot, valid only during the call. */
export type PacketBatchHandler = (packets: readonly Buffer[]) => void;

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

/** One open TUN device. */
export class TunDevice {
  private reader: ReaderHandle | undefined;
  private closed = false;

  private constructor(
    private readonly addon: TunAddon,
    private readonly fd: number,
    /** The interface name the kernel gave the device. */
    readonly name: string,
    /** Largest packet read or written (the device MTU). */
    readonly mtu: number,
  ) {}

  /** Creates (or attaches to) a TUN device called `name` ('' lets the kernel pick tunN). */
  static open(name: string, mtu: number): TunDevice {
    const addon = tunAddon();
    try {
      const [fd, actual] = addon.open(name, false);
      return new TunDevice(addon, fd, actual, mtu);
    } catch (error) {
      throw openError(error as NodeJS.ErrnoException, name);
    }
  }

  /** Starts delivering packets read from the device to `handler`, in batches of up to 64. */
  onPackets(handler: PacketBatchHandler): void {
    if (this.reader || this.closed) throw new Error(`TUN ${this.name}: already reading or closed`);
    const slot = this.mtu + 64;
    const buffer = Buffer.alloc(slot * batchSlots);
    const lengths = new Uint32Array(batchSlots);
    const views: Buffer[] = [];
    this.reader = this.addon.startReading(this.fd, buffer, lengths, slot, (count) => {
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

  /** Injects one IP packet; false when the kernel refused it (link down, queue full). */
  write(packet: Buffer): boolean {
    if (this.closed) return false;
    return this.addon.write(this.fd, packet, 0, packet.length) === packet.length;
  }

  /** Stops reading and closes the fd; the kernel removes a non-persistent device with its routes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reader) this.addon.stop(this.reader);
    this.addon.close(this.fd);
  }
}
