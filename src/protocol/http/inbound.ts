import type { Socket } from 'node:net';
import type { FlowRequest, InboundType } from '../../adapter/flow.js';
import type { InboundConn } from '../../adapter/inbound.js';
import { formatAddress, type Address } from '../../common/address.js';
import { checkCredentials } from '../../common/auth.js';
import type { RepliedFailure } from '../../common/errors.js';
import { HandshakeClosedError, type HandshakeReader } from '../../common/handshake-reader.js';
import { IdleTimer } from '../../common/idle-timer.js';
import { replyAndClose, sourceOf, usersFor, type ConnectionHandler, type Session } from '../listener.js';
import { bodyFraming, connectTarget, encodeForwardHead, encodeStatus, forwardTarget, headerValue, HttpError, isUpgrade, parseRequestHead, type RequestHead } from './codec.js';
import { forwardChunks, holdChunks, passBytes, type Emit } from './request-body.js';
import { Upstream } from './upstream.js';

/** Serves one HTTP proxy client: CONNECT tunnels and absolute-URI requests with keep-alive and pipelining. */
export const handleHttp: ConnectionHandler = async (socket, reader, session) => {
  await new HttpProxyConnection(socket, reader, session).serve();
};

/** The status a failed dial answers with; other failures are 502. */
const statusForFailure: Partial<Record<RepliedFailure, number>> = { timeout: 504, blocked: 403, 'invalid-destination': 400 };

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
        const held = framing.kind === 'chunked' ? await holdChunks(this.reader, heldBodyBytes) : undefined;
        const upstream = await this.upstreamFor(target.destination);
        if (!upstream) return;
        upstream.responses.sent(head.method);
        upstream.send(encodeForwardHead(head, target));
        if (framing.kind === 'length') await passBytes(this.reader, framing.length, sender(upstream));
        if (held) {
          for (const piece of held.pieces) upstream.send(piece);
          // Broken framing past this point aborts the origin connection (see fail).
          if (!held.done) await forwardChunks(this.reader, sender(upstream));
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
      this.upstream.endRequests();
      await this.upstream.closed;
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

  /** CONNECT: the client's connection becomes the tunnel, answered 200 once the destination is connected. */
  private async tunnel(head: RequestHead): Promise<void> {
    const destination = connectTarget(head);
    await this.finishUpstream();
    const socket = this.socket;
    await this.session.context.dispatcher.handleTcp(this.flowRequest('HTTPS', destination), {
      stream: socket,
      head: this.reader.release(),
      accept: () => {
        this.idle.stop();
        socket.write(encodeStatus(200, 'Connection established', [], false));
      },
      reject: this.reject,
    });
  }

  /** An Upgrade request (WebSocket): forwarded, then the connection relays both ways as it is. */
  private async upgrade(forwardHead: Buffer, destination: Address): Promise<void> {
    await this.finishUpstream();
    const conn: InboundConn = {
      stream: this.socket,
      head: Buffer.concat([forwardHead, this.reader.release()]),
      accept: () => this.idle.stop(),
      reject: this.reject,
    };
    await this.session.context.dispatcher.handleTcp(this.flowRequest('HTTP', destination), conn);
  }

  /** Lets the current origin connection answer every request sent on it, then lets it go. */
  private async finishUpstream(): Promise<void> {
    const upstream = this.upstream;
    if (!upstream) return;
    await Promise.race([upstream.responses.idle(), upstream.closed]);
    if (this.upstream === upstream) this.upstream = undefined;
    upstream.release();
  }

  /**
   * The origin connection for `destination`: the current one when it goes to the same place
   * (pipelined requests queue there), else a new one once the current one has answered.
   */
  private async upstreamFor(destination: Address): Promise<Upstream | undefined> {
    const key = formatAddress(destination);
    if (this.upstream?.key === key && this.upstream.usable) return this.upstream;
    await this.finishUpstream();
    const upstream = new Upstream(key, this.socket, () => this.idle.touch());
    // Current while it dials, so a client that leaves aborts the dial.
    this.upstream = upstream;
    const connected = await upstream.connect(this.session.context.dispatcher, this.flowRequest('HTTP', destination), this.reject);
    return connected ? upstream : undefined;
  }

  /** Answers a failed dial with 403/502/504. */
  private readonly reject = (failure: RepliedFailure, error: Error): void => this.fail(statusForFailure[failure] ?? 502, error.message);

  private flowRequest(type: InboundType, destination: Address): FlowRequest {
    const { name, guard } = this.session.context;
    return { network: 'tcp', inbound: { name, type, port: this.session.port, guard }, source: sourceOf(this.socket), destination, user: this.user };
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
    upstream?.destroy();
  }

  /** The client is gone (or idle too long): an origin connection that owes no response ends cleanly, one mid-response is cut. */
  private destroy(): void {
    const upstream = this.upstream;
    this.upstream = undefined;
    if (upstream?.responses.pending === 0 && !upstream.responses.midResponse) upstream.release();
    else upstream?.destroy();
    this.socket.destroy();
  }
}

/** Sends pieces to the origin, waiting for it to take them when it is slow. */
function sender(upstream: Upstream): Emit {
  return (piece) => (upstream.send(piece) ? undefined : upstream.room());
}
