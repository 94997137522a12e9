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
import {
  bodyFraming,
  connectTarget,
  encodeForwardHead,
  encodeStatus,
  forwardTarget,
  headerValue,
  HttpError,
  isUpgrade,
  parseChunkSizeLine,
  parseRequestHead,
  parseTrailerLine,
  type RequestHead,
} from './codec.js';

/** Serves one HTTP proxy client: CONNECT tunnels and absolute-URI requests with keep-alive. */
export const handleHttp: ConnectionHandler = async (socket, reader, session) => {
  await new HttpProxyConnection(socket, reader, session).serve();
};

/** The origin connection currently serving plain requests of one client connection. */
interface Upstream {
  /** `host:port` it is connected to. */
  key: string;
  flow: Flow;
  remote: Duplex;
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

class HttpProxyConnection {
  private upstream: Upstream | undefined;
  private readonly idle: IdleTimer;
  private user: string | undefined;

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
      for (;;) {
        const head = await this.nextHead();
        if (head === undefined) return;
        if (!this.authorize(head)) return;
        if (head.method === 'CONNECT') return await this.tunnel(head);
        const target = forwardTarget(head);
        if (isUpgrade(head)) return await this.upgrade(encodeForwardHead(head, target), target.destination);
        const upstream = await this.upstreamFor(target.destination);
        if (!upstream) return;
        this.send(upstream, encodeForwardHead(head, target));
        await this.forwardBody(head, upstream);
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      this.fail(error.status, error.message);
    } finally {
      this.idle.stop();
    }
  }

  /** Reads the next request head; undefined when the client closed between requests. */
  private async nextHead(): Promise<RequestHead | undefined> {
    try {
      const head = await this.reader.read(parseRequestHead);
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
    this.closeUpstream();
    const destination = connectTarget(head);
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
    this.closeUpstream();
    const flow = this.openFlow('HTTP', destination);
    const remote = await this.dial(flow);
    if (!remote) return;
    this.idle.stop();
    const leftover = this.reader.release();
    await this.session.context.dispatcher.relay(flow, this.socket, remote, Buffer.concat([forwardHead, leftover]));
  }

  /** The origin connection for `destination`, reusing the current one when it goes to the same place. */
  private async upstreamFor(destination: Address): Promise<Upstream | undefined> {
    const key = formatAddress(destination);
    if (this.upstream?.key === key && !this.upstream.remote.destroyed) return this.upstream;
    this.closeUpstream();
    const flow = this.openFlow('HTTP', destination);
    const remote = await this.dial(flow);
    if (!remote) return undefined;
    const { dispatcher } = this.session.context;
    const closed = new Promise<void>((resolve) => {
      remote.on('close', () => {
        dispatcher.close(flow);
        resolve();
      });
    });
    const upstream: Upstream = { key, flow, remote, closed };
    remote.on('data', (chunk: Buffer) => {
      if (this.upstream !== upstream) return;
      flow.bytesDown += chunk.length;
      this.idle.touch();
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

  private async forwardBody(head: RequestHead, upstream: Upstream): Promise<void> {
    const framing = bodyFraming(head);
    if (framing.kind === 'length') return this.copyBody(upstream, framing.length);
    if (framing.kind === 'none') return;
    for (;;) {
      const size = await this.reader.read(rawLine(parseChunkSizeLine));
      this.send(upstream, size.raw);
      if (size.value === 0) break;
      await this.copyBody(upstream, size.value + 2);
    }
    for (;;) {
      const trailer = await this.reader.read(rawLine(parseTrailerLine));
      this.send(upstream, trailer.raw);
      if (trailer.value) return;
    }
  }

  /** Copies exactly `length` body bytes from the client to the origin, waiting when the origin is slow. */
  private async copyBody(upstream: Upstream, length: number): Promise<void> {
    let left = length;
    while (left > 0) {
      const chunk = await this.reader.read((buffer) => {
        const n = Math.min(buffer.length, left);
        return { value: buffer.subarray(0, n), length: n };
      });
      left -= chunk.length;
      if (!this.send(upstream, chunk)) await waitDrain(upstream.remote);
    }
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

  private fail(status: number, message: string): void {
    this.closeUpstream();
    this.session.context.logger.debug(`${this.session.context.name}: HTTP ${status}: ${message}`);
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
