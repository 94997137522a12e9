import { ReplayWindow, rejectAfterMessages } from '../wire/replay-window.js';
import { Timers } from './seams.js';
import { dataCounter, openData, sealData } from '../wire/transport.js';

/** One session's keys and counters (spec §6.3). */
export class Keypair {
  /** Next counter to send with. */
  private sendCounter = 0;
  private readonly replay = new ReplayWindow();

  constructor(
    /** Our index: the receiver index of messages for this keypair. */
    readonly localIndex: number,
    /** The peer's index: the receiver index of messages we send. */
    readonly remoteIndex: number,
    private readonly sendKey: Buffer,
    private readonly receiveKey: Buffer,
    /** When the handshake completed (monotonic ms). */
    readonly created: number,
  ) {}

  /** Age in ms at `now`. */
  age(now: number): number {
    return now - this.created;
  }

  /** True while the keypair may still send (spec §6.3). */
  canSend(now: number): boolean {
    return this.age(now) < Timers.rejectAfterTime && this.sendCounter < rejectAfterMessages;
  }

  /** True when the sender should start a new handshake before using this keypair much longer. */
  wantsRekeyOnSend(now: number): boolean {
    return this.age(now) >= Timers.rekeyAfterTime || this.sendCounter >= Timers.rekeyAfterMessages;
  }

  /** Seals one IP packet (or an empty keepalive). */
  seal(packet: Buffer, mtu: number): Buffer {
    return sealData(this.sendKey, this.remoteIndex, this.sendCounter++, packet, mtu);
  }

  /**
   * Opens a data message addressed to this keypair (spec §5.4 steps 2–4): age limit, replay
   * pre-check, AEAD, then the replay window update. Decrypts in place: the plaintext returned is
   * a view of `message`. Undefined, with no state change but a zeroed body, on failure.
   */
  open(message: Buffer, now: number): Buffer | undefined {
    const parsed = dataCounter(message);
    if (!parsed || this.age(now) >= Timers.rejectAfterTime || !this.replay.check(parsed.counter)) return undefined;
    const plain = openData(this.receiveKey, message);
    if (!plain) return undefined;
    this.replay.update(parsed.counter);
    return plain;
  }

  /** Overwrites the keys (spec §6.1 KEY_ZEROIZE_TIME, shutdown). */
  wipe(): void {
    this.sendKey.fill(0);
    this.receiveKey.fill(0);
  }
}
