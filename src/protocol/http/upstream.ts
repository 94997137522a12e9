import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { FlowRequest } from '../../adapter/flow.js';
import type { InboundConn } from '../../adapter/inbound.js';
import type { RepliedFailure } from '../../common/errors.js';
import { endThenDestroy } from '../../common/end-then-destroy.js';
import type { Dispatcher } from '../../dispatcher.js';
import { ResponseTracker } from './response-tracker.js';

/** How long an origin connection the client moved on from may take to close after its requests ended. */
const releaseGraceMs = 2000;

/**
 * One origin connection serving a client's plain (absolute-URI) requests, as the client's
 * side of a dispatcher flow: the proxy puts the re-framed requests into `stream`, the
 * dispatcher relays them to the origin, and the origin's bytes come back out to the client
 * socket, followed by a ResponseTracker, while the upstream is attached (the one the
 * client connection uses now).
 */
export class Upstream {
  /** Follows its responses: when each ends, and when none is pending. */
  readonly responses = new ResponseTracker();
  /** The client side of the flow the dispatcher relays. */
  readonly stream: Duplex;
  /** Resolves when the flow has ended. */
  closed: Promise<void> = Promise.resolve();
  private attached = true;
  private requestsEnded = false;
  private wakeSender: (() => void) | undefined;

  constructor(
    /** `host:port` it is connected to. */
    readonly key: string,
    private readonly client: Socket,
    /** Called on every byte that moves (the client connection's idle timer). */
    private readonly touch: () => void,
  ) {
    this.stream = new Duplex({
      allowHalfOpen: true,
      writableHighWaterMark: 64 * 1024,
      read: () => this.wake(),
      write: (chunk: Buffer, _encoding, done) => this.toClient(chunk, done),
      final: (done) => {
        // The origin closed: its response ends with the connection, so the client's does too.
        this.responses.closed();
        if (this.attached) this.client.end();
        this.endRequests();
        done();
      },
      destroy: (error, done) => {
        this.responses.closed();
        this.wake();
        if (this.attached) this.client.destroy();
        done(error);
      },
    });
  }

  /**
   * Hands the flow to the dispatcher. Resolves true once the origin is connected, false
   * when it could not be (after `onReject` answered the client, or the connection was dropped).
   */
  connect(dispatcher: Dispatcher, request: FlowRequest, onReject: (failure: RepliedFailure, error: Error) => void): Promise<boolean> {
    return new Promise((resolve) => {
      const conn: InboundConn = {
        stream: this.stream,
        head: Buffer.alloc(0),
        accept: () => resolve(true),
        reject: (failure, error) => {
          this.attached = false;
          resolve(false);
          onReject(failure, error);
        },
      };
      this.closed = dispatcher.handleTcp(request, conn).then(() => resolve(false));
    });
  }

  /** True while the origin connection can take more requests. */
  get usable(): boolean {
    return !this.stream.destroyed && !this.requestsEnded && !this.responses.opaque;
  }

  /** Sends request bytes to the origin; false when it is slow (wait for `room()`). */
  send(bytes: Buffer): boolean {
    this.touch();
    if (this.requestsEnded || this.stream.destroyed) return true;
    return this.stream.push(bytes);
  }

  /** Resolves when the origin can take more request bytes (or is gone). */
  room(): Promise<void> {
    return new Promise((resolve) => (this.wakeSender = resolve));
  }

  /** No more requests: the origin's side is half-closed once the relay has sent everything. */
  endRequests(): void {
    if (this.requestsEnded) return;
    this.requestsEnded = true;
    this.stream.push(null);
  }

  /** The client moved on, every response answered: the origin connection ends cleanly, or is cut after a grace period. */
  release(): void {
    this.attached = false;
    this.endRequests();
    endThenDestroy(this.stream, releaseGraceMs);
  }

  /** Drops the origin connection now (a request cut in the middle never reaches it whole); the client socket is left alone. */
  destroy(): void {
    this.attached = false;
    this.stream.destroy();
  }

  private toClient(chunk: Buffer, done: () => void): void {
    // Bytes of an origin the client moved on from have nowhere to go.
    if (!this.attached) return done();
    this.touch();
    this.responses.feed(chunk);
    if (this.client.write(chunk)) return done();
    this.client.once('drain', () => done());
  }

  private wake(): void {
    const wake = this.wakeSender;
    this.wakeSender = undefined;
    wake?.();
  }
}
