import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SniffClient } from '../../route/sniff/sniffer.js';
import type { Flow, InboundType } from '../../adapter/flow.js';
import { formatAddress, type Address } from '../../common/address.js';
import { checkCredentials } from '../../common/auth.js';
import { DialError, type DialFailure } from '../../common/errors.js';
import { HandshakeClosedError, type HandshakeReader } from '../../common/handshake-reader.js';
import { IdleTimer } from '../../common/idle-timer.js';
import { replyAndClose, sourceOf, usersFor, type ConnectionHandler, type Session } from '../listener.js';
import { ResponseTracker } from './response-tracker.js';
import {
  bodyFraming,
  connectTarget,
  encodeForwardHead,
  encodeStatus,
  forwardTarget,
  headerValue,
  HttpError,
  isUpgrade,
  parseChunkEnd,
  parseChunkSizeLine,
  parseRequestHead,
  parseTrailerLine,
  type RequestHead,
} from './codec.js';

/** Serves one HTTP proxy client: CONNECT tunnels and absolute-URI requests with keep-alive and pipelining. */
export const handleHttp: ConnectionHandler = async (socket, reader, session) => {
  await new HttpProxyConnection(socket, reader, session).serve();
};

/** The origin connection currently serving plain requests of one client connection. */
interface Upstream {
  /** `host:port` it is connected to. */
  key: string;
  flow: Flow;
  remote: Duplex;
  /** Follows its responses: when each ends, and when none is pending. */
  responses: ResponseTracker;
  /** Resolves when the origin connection has closed. */
  closed: Promise<void>;
}

/** The status a failed dial answers with; other failures are 502. */
const statusForFailure: Partial<Record<DialFailure, number>> = { timeout: 504, blocked: 403, 'invalid-destination': 400 };

const statusText: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

/**
 * Chunked body bytes validated before anything is sent upstream: a request whose framing is
 * broken within this much gets its 400 with the origin untouched (nothing to smuggle). A
 * larger body streams on, and a later framing error aborts the origin connection instead.
 */
const heldBodyBytes = 64 * 1024;

const crlf = Buffer.from('\r\n', 'latin1');

class HttpProxyConnection {
  private upstream: Upstream | undefined;
  private readonly idle: IdleTimer;
  private user: string | undefined;
  /** Ends a client that waits too long between requests, or takes too long over a head. */
  private waitTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly reader: HandshakeReader,
    private readonly session: Session,
  ) {
    const { tcpIdleMs } = session.context.dispatcher.timeouts;
    this.idle = new IdleTimer(tcpIdleMs, () => this.destroy());
    socket.on('drain', () => this.upstream?.remote.resume());
    socket.on('close', () => this.destroy());
  }

  async serve(): Promise<void> {
    try {
      for (let first = true; ; first = false) {
        const head = await this.nextHead(first);
        if (head === undefined) return;
        if (!this.authorize(head)) return;
        if (head.method === 'CONNECT') return await this.tunnel(head);
        const target = forwardTarget(head);
        const framing = bodyFraming(head);
        if (isUpgrade(head)) return await this.upgrade(encodeForwardHead(head, target), target.destination);
        // A chunked body is checked (up to heldBodyBytes) before anything goes upstream.
        const held = framing.kind === 'chunked' ? await this.holdChunks() : undefined;
        const upstream = await this.upstreamFor(target.destination);
        if (!upstream) return;
        upstream.responses.sent(head.method);
        this.send(upstream, encodeForwardHead(head, target));
        if (framing.kind === 'length') await this.pass(framing.length, this.sender(upstream));
        if (held) {
          for (const piece of held.pieces) this.send(upstream, piece);
          if (!held.done) await this.forwardChunks(upstream);
        }
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      this.fail(error.status, error.message);
    } finally {
      this.idle.stop();
      clearTimeout(this.waitTimer);
    }
  }

  /**
   * Reads the next request head; undefined when the client closed between requests. After
   * the first request (which the listener's handshake timeout covers) a client gets
   * `keepAliveMs` once every response was sent to start a request, and the handshake
   * timeout to finish its head.
   */
  private async nextHead(first: boolean): Promise<RequestHead | undefined> {
    try {
      if (!first) {
        await this.waitForClient(this.reader.read(() => ({ value: true, length: 0 })));
        this.arm(this.session.context.handshakeTimeoutMs);
      }
      const head = await this.reader.read(parseRequestHead);
      clearTimeout(this.waitTimer);
      this.idle.touch();
      this.session.handshakeDone();
      return head;
    } catch (error) {
      if (!(error instanceof HandshakeClosedError) || !this.upstream) throw error;
      // The client sent its last request and half-closed: let the origin finish the response.
      const { remote, closed } = this.upstream;
      remote.end();
      await closed;
      return undefined;
    }
  }

  /** Waits for `arrived` (the client's next byte), with the keep-alive timer running whenever no response is pending. */
  private async waitForClient(arrived: Promise<unknown>): Promise<void> {
    const keepAlive = async (): Promise<void> => {
      await this.upstream?.responses.idle();
      if (this.waitTimer === undefined) this.arm(this.session.context.keepAliveMs);
    };
    this.waitTimer = undefined;
    void keepAlive();
    await arrived;
    clearTimeout(this.waitTimer);
  }

  private arm(ms: number): void {
    clearTimeout(this.waitTimer);
    this.waitTimer = setTimeout(() => this.destroy(), ms);
    this.waitTimer.unref();
  }

  private authorize(head: RequestHead): boolean {
    const users = usersFor(this.session, this.socket);
    if (!users) return true;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(headerValue(head, 'proxy-authorization') ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon > 0 && checkCredentials(users, decoded.slice(0, colon), decoded.slice(colon + 1))) {
      this.user = decoded.slice(0, colon);
      return true;
    }
    if (m) this.session.context.logger.warn(`${this.session.context.name}: HTTP proxy authentication failed`, { source: this.socket.remoteAddress });
    this.closeUpstream();
    replyAndClose(this.socket, encodeStatus(407, statusText[407]!, ['Proxy-Authenticate: Basic realm="sluice"']));
    return false;
  }

  private async tunnel(head: RequestHead): Promise<void> {
    const destination = connectTarget(head);
    await this.finishUpstream();
    const flow = this.openFlow('HTTPS', destination);
    const socket = this.socket;
    const client: SniffClient = {
      stream: socket,
      head: this.reader.release(),
      accepted: false,
      acceptEarly() {
        this.accepted = true;
        socket.write(encodeStatus(200, 'Connection established', [], false));
      },
    };
    const remote = await this.dial(flow, client);
    if (!remote) return;
    if (!client.accepted) socket.write(encodeStatus(200, 'Connection established', [], false));
    await this.session.context.dispatcher.relay(flow, socket, remote, client.head);
  }

  private async upgrade(forwardHead: Buffer, destination: Address): Promise<void> {
    await this.finishUpstream();
    const flow = this.openFlow('HTTP', destination);
    const remote = await this.dial(flow);
    if (!remote) return;
    this.idle.stop();
    const leftover = this.reader.release();
    await this.session.context.dispatcher.relay(flow, this.socket, remote, Buffer.concat([forwardHead, leftover]));
  }

  /** Lets the current origin connection answer every request sent on it, then closes it. */
  private async finishUpstream(): Promise<void> {
    const upstream = this.upstream;
    if (!upstream) return;
    await Promise.race([upstream.responses.idle(), upstream.closed]);
    this.closeUpstream();
  }

  /**
   * The origin connection for `destination`: the current one when it goes to the same place
   * (pipelined requests queue there), else a new one once the current one has answered.
   */
  private async upstreamFor(destination: Address): Promise<Upstream | undefined> {
    const key = formatAddress(destination);
    if (this.upstream?.key === key && !this.upstream.remote.destroyed && !this.upstream.responses.opaque) return this.upstream;
    await this.finishUpstream();
    const flow = this.openFlow('HTTP', destination);
    const remote = await this.dial(flow);
    if (!remote) return undefined;
    const { dispatcher } = this.session.context;
    const responses = new ResponseTracker();
    const closed = new Promise<void>((resolve) => {
      remote.on('close', () => {
        responses.closed();
        dispatcher.close(flow);
        resolve();
      });
    });
    const upstream: Upstream = { key, flow, remote, responses, closed };
    remote.on('data', (chunk: Buffer) => {
      if (this.upstream !== upstream) return;
      flow.bytesDown += chunk.length;
      this.idle.touch();
      responses.feed(chunk);
      if (!this.socket.write(chunk)) remote.pause();
    });
    remote.on('end', () => {
      // The origin closed: its response ends with the connection, so the client's does too.
      if (this.upstream === upstream) this.socket.end();
    });
    remote.on('error', (error: Error) => {
      dispatcher.close(flow, error);
      if (this.upstream === upstream) this.socket.destroy();
    });
    flow.signal.addEventListener('abort', () => {
      remote.destroy();
      if (this.upstream === upstream) this.socket.destroy();
    }, { once: true });
    this.upstream = upstream;
    return upstream;
  }

  /**
   * Reads chunks, checked and re-framed, until the body ends or `heldBodyBytes` are held;
   * nothing is sent yet. Throws HttpError(400) on broken framing.
   */
  private async holdChunks(): Promise<{ pieces: Buffer[]; done: boolean }> {
    const pieces: Buffer[] = [];
    let size = 0;
    for (;;) {
      const last = await this.readChunk((piece) => {
        pieces.push(piece);
        size += piece.length;
      });
      if (last) return { pieces, done: true };
      if (size >= heldBodyBytes) return { pieces, done: false };
    }
  }

  /** Streams the rest of a chunked body, checked and re-framed; broken framing aborts the origin connection. */
  private async forwardChunks(upstream: Upstream): Promise<void> {
    const emit = this.sender(upstream);
    while (!(await this.readChunk(emit)));
  }

  /**
   * Reads one chunk (or the last one with its trailers), checked, and hands its pieces to
   * `emit` as they arrive: the size line re-encoded without extensions, the data, the CRLF
   * after it. True for the last chunk.
   */
  private async readChunk(emit: (piece: Buffer) => Promise<void> | void): Promise<boolean> {
    const size = await this.reader.read(parseChunkSizeLine);
    await emit(Buffer.from(`${size.toString(16)}\r\n`, 'latin1'));
    if (size === 0) {
      for (;;) {
        const trailer = await this.reader.read(rawLine(parseTrailerLine));
        await emit(trailer.raw);
        if (trailer.value) return true;
      }
    }
    await this.pass(size, emit);
    await this.reader.read(parseChunkEnd);
    await emit(crlf);
    return false;
  }

  /** Hands exactly `length` body bytes from the client to `emit`, piece by piece as they arrive. */
  private async pass(length: number, emit: (piece: Buffer) => Promise<void> | void): Promise<void> {
    let left = length;
    while (left > 0) {
      const piece = await this.reader.read((buffer) => {
        const n = Math.min(buffer.length, left);
        return { value: buffer.subarray(0, n), length: n };
      });
      left -= piece.length;
      await emit(piece);
    }
  }

  /** Sends pieces to the origin, waiting for it to drain when it is slow. */
  private sender(upstream: Upstream): (piece: Buffer) => Promise<void> | undefined {
    return (piece) => (this.send(upstream, piece) ? undefined : waitDrain(upstream.remote));
  }

  private send(upstream: Upstream, bytes: Buffer): boolean {
    upstream.flow.bytesUp += bytes.length;
    this.idle.touch();
    return upstream.remote.write(bytes);
  }

  private openFlow(type: InboundType, destination: Address): Flow {
    const { dispatcher, name, guard } = this.session.context;
    return dispatcher.open({
      network: 'tcp',
      inbound: { name, type, port: this.session.port, guard },
      source: sourceOf(this.socket),
      destination,
      user: this.user,
    });
  }

  /** Dials a flow; on failure answers 403/502/504 (or nothing, for REJECT-DROP) and returns undefined. */
  private async dial(flow: Flow, client?: SniffClient): Promise<Duplex | undefined> {
    try {
      return await this.session.context.dispatcher.connect(flow, client);
    } catch (error) {
      const failure = error instanceof DialError ? error.failure : 'general';
      if (failure === 'dropped' || client?.accepted) this.socket.destroy();
      else this.fail(statusForFailure[failure] ?? 502, (error as Error).message);
      return undefined;
    }
  }

  /**
   * Answers an error status and closes; the origin connection is dropped (a request cut in
   * the middle never reaches it whole). Mid-way through relaying a response, the client
   * connection is closed instead, as a status there would corrupt the response.
   */
  private fail(status: number, message: string): void {
    const midResponse = this.upstream?.responses.midResponse ?? false;
    this.closeUpstream();
    this.session.context.logger.debug(`${this.session.context.name}: HTTP ${status}: ${message}`);
    if (midResponse) return void this.socket.destroy();
    replyAndClose(this.socket, encodeStatus(status, statusText[status] ?? 'Error'));
  }

  private closeUpstream(): void {
    const upstream = this.upstream;
    this.upstream = undefined;
    upstream?.remote.destroy();
  }

  private destroy(): void {
    this.closeUpstream();
    this.socket.destroy();
  }
}

/** Wraps a line parser so the raw bytes of the line come back too (they are forwarded as sent). */
function rawLine<T>(parse: (buffer: Buffer) => { value: T; length: number } | undefined) {
  return (buffer: Buffer) => {
    const parsed = parse(buffer);
    return parsed && { value: { value: parsed.value, raw: buffer.subarray(0, parsed.length) }, length: parsed.length };
  };
}

function waitDrain(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
