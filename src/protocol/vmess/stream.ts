import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { endThenDestroy } from '../../common/end-then-destroy.js';
import type { BodyWriter } from './body.js';
import type { BodyReader } from './body-reader.js';
import { VmessError } from './request-header.js';

/** How one side of a VMess connection frames its two directions. */
export interface VmessStreamOptions {
  /** The connection to the peer: a TCP socket, or a stream through a relay's earlier hops. */
  socket: Duplex & Partial<Pick<Socket, 'localAddress' | 'localPort'>>;
  /** Sent in front of the first body bytes: the request header (client) or the response header (server). */
  prefix: Buffer;
  /** Send the prefix alone if nothing was written after this long (lets server-first protocols start). */
  prefixTimeoutMs?: number;
  /** Frames what is written. */
  writer: BodyWriter;
  /** Unframes what arrives. */
  reader: BodyReader;
  /** Client only: consumes the response header in front of the body; returns its length once complete. */
  readHeader?: (buffer: Buffer) => number | undefined;
  /** Server only: body bytes that arrived together with the request header. */
  initial?: Buffer;
  /** UDP: each write and each read is one datagram (object mode keeps their boundaries). */
  packets?: boolean;
}

/**
 * The plaintext side of a VMess connection as a Duplex: writes become body chunks (an
 * end becomes the EOS chunk), body chunks become reads (EOS, or a TCP close at a chunk
 * boundary, becomes the end). The TCP connection is half-closed only once both directions
 * are over, because v2ray treats a FIN as the end of everything.
 */
export class VmessStream extends Duplex {
  private prefix: Buffer | undefined;
  private prefixTimer: NodeJS.Timeout | undefined;
  private headerBuffer: Buffer | undefined;

  constructor(private readonly options: VmessStreamOptions) {
    super({ allowHalfOpen: true, objectMode: options.packets ?? false });
    const { socket } = options;
    this.prefix = options.prefix;
    this.headerBuffer = options.readHeader ? Buffer.alloc(0) : undefined;
    if (options.prefixTimeoutMs !== undefined) {
      this.prefixTimer = setTimeout(() => this.send([]), options.prefixTimeoutMs);
    }
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy(this.readableEnded ? undefined : new VmessError('connection closed'));
    });
    if (options.initial && options.initial.length > 0) this.onData(options.initial);
  }

  /** Largest write that fits one chunk (matters for datagrams). */
  get maxPayload(): number {
    return this.options.writer.maxPayload;
  }

  /** The underlying TCP connection's local address, as SOCKS replies report it. */
  get localAddress(): string | undefined {
    return this.options.socket.localAddress;
  }

  /** The underlying TCP connection's local port. */
  get localPort(): number | undefined {
    return this.options.socket.localPort;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let wire: Buffer[];
    try {
      wire = this.options.writer.write(chunk);
    } catch (error) {
      return callback(error as Error);
    }
    this.send(wire, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const { writer, socket } = this.options;
    this.send(writer.end(), callback);
    // Without an EOS chunk the only way to say "no more" is a TCP half-close.
    if (!writer.signalsEnd) socket.end();
  }

  override _read(): void {
    this.options.socket.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.prefixTimer);
    const { socket } = this.options;
    if (error) socket.destroy();
    else endThenDestroy(socket, 5000);
    callback(error);
  }

  /** Writes wire pieces (after the prefix, the first time) in one corked batch. */
  private send(wire: Buffer[], callback?: (error?: Error | null) => void): void {
    const { socket } = this.options;
    if (this.prefix) {
      clearTimeout(this.prefixTimer);
      wire = [this.prefix, ...wire];
      this.prefix = undefined;
    }
    let flowing = true;
    if (wire.length > 1) socket.cork();
    for (const piece of wire) flowing = socket.write(piece);
    if (wire.length > 1) socket.uncork();
    if (flowing) return callback?.();
    if (!callback) return;
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      callback(socket.destroyed ? new VmessError('connection closed') : undefined);
    };
    socket.on('drain', done);
    socket.on('close', done);
  }

  private readonly onData = (data: Buffer): void => {
    let body = data;
    if (this.headerBuffer) {
      const buffered = Buffer.concat([this.headerBuffer, data]);
      let length: number | undefined;
      try {
        length = this.options.readHeader!(buffered);
      } catch (error) {
        this.destroy(error as Error);
        return;
      }
      if (length === undefined) {
        this.headerBuffer = buffered;
        return;
      }
      this.headerBuffer = undefined;
      body = buffered.subarray(length);
    }
    let plain: Buffer[];
    try {
      plain = this.options.reader.read(body);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    let more = true;
    for (const piece of plain) more = this.push(piece);
    if (this.options.reader.ended) this.finishReading();
    else if (!more) this.options.socket.pause();
  };

  private readonly onEnd = (): void => {
    if (this.headerBuffer !== undefined || !this.options.reader.atBoundary()) {
      this.destroy(new VmessError('connection closed in the middle of a chunk'));
      return;
    }
    this.finishReading();
  };

  private finishReading(): void {
    if (this.readableEnded || this.destroyed) return;
    this.options.socket.off('data', this.onData);
    this.options.socket.resume();
    this.push(null);
  }
}
