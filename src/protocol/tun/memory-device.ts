import type { PacketBatchHandler, TunDevice, TunOffloadStats } from '../../adapter/tun.js';

/**
 * A TUN device in memory, the way the tunnel engine's Bind has a fake: a test injects the
 * packets "applications" send and reads what sluice wrote back, with no root and no kernel.
 * Delivery honours pause/resume; packets longer than the MTU are refused as the kernel would.
 */
export class MemoryTunDevice implements TunDevice {
  /** Packets sluice wrote to the device, oldest first (copies). */
  readonly written: Buffer[] = [];
  private handler: PacketBatchHandler | undefined;
  private readonly waiting: Buffer[] = [];
  private paused = false;
  private closed = false;
  private refused = 0;

  constructor(
    /** The interface name. */
    readonly name = 'memtun0',
    /** Largest packet. */
    readonly mtu = 1500,
  ) {}

  /** Packets as if applications sent them: delivered at once in one batch, or when reading resumes. */
  inject(...packets: Buffer[]): void {
    if (this.closed) return;
    this.waiting.push(...packets);
    this.deliver();
  }

  onPackets(handler: PacketBatchHandler): void {
    if (this.handler || this.closed) throw new Error(`TUN ${this.name}: already reading or closed`);
    this.handler = handler;
    this.deliver();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.deliver();
  }

  write(packet: Buffer): void {
    if (this.closed) return;
    if (packet.length > this.mtu) this.refused++;
    else this.written.push(Buffer.from(packet));
  }

  flush(): void {}

  offloadStats(): TunOffloadStats {
    return { enabled: false, superPacketsRead: 0, segmentsRead: 0, writes: this.written.length, packetsWritten: this.written.length, dropped: this.refused };
  }

  close(): void {
    this.closed = true;
    this.waiting.length = 0;
  }

  private deliver(): void {
    if (!this.handler || this.paused || this.closed || this.waiting.length === 0) return;
    this.handler(this.waiting.splice(0, this.waiting.length));
  }
}
