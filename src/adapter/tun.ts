/** The TUN device seam: the kernel's device (protocol/tun/device.ts) or an in-memory one (protocol/tun/memory-device.ts). */

/** Receives a batch: `packets[i]` views a reused slot, valid only during the call. */
export type PacketBatchHandler = (packets: readonly Buffer[]) => void;

/** What the device's offload did so far. */
export interface TunOffloadStats {
  /** Whether the kernel took TCP segmentation offload for this device. */
  enabled: boolean;
  /** TCP super-packets read and cut into segments. */
  superPacketsRead: number;
  /** Segments those super-packets made. */
  segmentsRead: number;
  /** write/writev system calls. */
  writes: number;
  /** Packets written (a merged super-packet counts each of its segments). */
  packetsWritten: number;
  /** Packets the kernel refused, or reads dropped as malformed. */
  dropped: number;
}

/** An IP packet device: what the tunnel ends and the TUN inbound read from and write to. */
export interface TunDevice {
  /** The interface name. */
  readonly name: string;
  /** Largest packet read or written. */
  readonly mtu: number;
  /** Starts delivering packets read from the device to `handler`, in batches. */
  onPackets(handler: PacketBatchHandler): void;
  /** Stops delivering until `resume` (backpressure). */
  pause(): void;
  /** Delivers again after `pause`. */
  resume(): void;
  /** Queues one IP packet (copied) for the device. */
  write(packet: Buffer): void;
  /** Writes what is queued now. */
  flush(): void;
  /** Counters of the offload path. */
  offloadStats(): TunOffloadStats;
  /** Stops reading and releases the device. */
  close(): void;
}
