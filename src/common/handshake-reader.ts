import type { Duplex } from 'node:stream';
import { SluiceError } from './errors.js';

/** A codec's answer when a complete message was found: the message and how many bytes it used. */
export interface Parsed<T> {
  /** The decoded message. */
  value: T;
  /** Bytes consumed from the front of the buffer. */
  length: number;
}

/**
 * A pure parser: returns the message at the front of `buffer`, undefined when more bytes
 * are needed, or throws when the bytes can never form a valid message.
 */
export type Parser<T> = (buffer: Buffer) => Parsed<T> | undefined;

/** Raised when the client closed or failed before finishing its handshake. */
export class HandshakeClosedError extends SluiceError {
  constructor() {
    super('SLUICE_HANDSHAKE_CLOSED', 'client closed during handshake');
  }
}

/**
 * Reads handshake messages from a socket with pure parsers, keeping bytes that arrive
 * after a message for the next read. `release()` hands the leftover to the caller, which
 * passes it to the relay so every byte the client sent after the handshake is forwarded.
 */
export class HandshakeReader {
  private buffered: Buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(
    private readonly socket: Duplex,
    /** Upper bound on bytes held while waiting for one message. */
    private readonly maxBuffered = 64 * 1024,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  /** Waits for one complete message; rejects on close or when the parser throws. */
  async read<T>(parse: Parser<T>): Promise<T> {
    for (;;) {
      const parsed = this.buffered.length > 0 ? parse(this.buffered) : undefined;
      if (parsed) {
        this.buffered = this.buffered.subarray(parsed.length);
        return parsed.value;
      }
      if (this.ended) throw new HandshakeClosedError();
      if (this.buffered.length > this.maxBuffered) throw new Error('handshake message too large');
      this.socket.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Stops reading and leaves the socket paused; returns the bytes received after the last message. */
  release(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.pause();
    const leftover = this.buffered;
    this.buffered = Buffer.alloc(0);
    return leftover;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.socket.pause();
    this.signal();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.signal();
  };

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
