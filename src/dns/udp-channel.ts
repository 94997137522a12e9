/**
 * UDP queries to DNS servers over a few long-lived sockets instead of one per query (which cost
 * a socket, a bind and a close each, and made forwarded queries several times slower than
 * answering them). A query goes out on a random socket of the pool with a random ID not in
 * use; an answer must come from the server asked, carry that ID and echo the question. Each
 * socket is replaced after `socketQueries` queries, so the source port keeps changing.
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { normalizeHost } from '../common/address.js';
import { matches } from './exchange.js';
import { decodeMessage, encodeMessage, queryFor, type DnsMessage, type DnsQuestion } from './wire.js';

const poolSize = 4;
const socketQueries = 1000;

interface Pending {
  question: DnsQuestion;
  server: { host: string; port: number };
  settle: (error: Error | undefined, answer?: DnsMessage) => void;
}

interface PooledSocket {
  socket: Socket;
  /** Queries it sent. */
  used: number;
  /** Its queries waiting for an answer, by ID. */
  pending: Map<number, Pending>;
}

/** The sockets of one address family, shared by every UDP server of that family. */
export class UdpChannel {
  private readonly pool: PooledSocket[] = [];

  constructor(private readonly family: 4 | 6) {}

  /** Sends one query to `server`; rejects when `signal` aborts first. */
  exchange(server: { host: string; port: number }, question: DnsQuestion, signal: AbortSignal): Promise<DnsMessage> {
    return new Promise((resolve, reject) => {
      const pooled = this.socketForQuery();
      let id = randomInt(0, 65536);
      while (pooled.pending.has(id)) id = randomInt(0, 65536);
      const query = encodeMessage(queryFor(question, id));
      const settle = (error: Error | undefined, answer?: DnsMessage): void => {
        if (pooled.pending.get(id) !== entry) return;
        pooled.pending.delete(id);
        signal.removeEventListener('abort', onAbort);
        this.retireIfDone(pooled);
        if (error) reject(error);
        else resolve(answer!);
      };
      const entry: Pending = { question, server, settle };
      const onAbort = (): void => settle(new Error(`no answer from ${server.host}:${server.port}`));
      pooled.pending.set(id, entry);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      pooled.socket.send(query, server.port, server.host, (error) => error && settle(error));
    });
  }

  /** Closes every socket; queries still waiting fail. */
  close(): void {
    for (const pooled of this.pool.splice(0)) {
      for (const entry of pooled.pending.values()) entry.settle(new Error('the DNS module closed'));
      pooled.socket.close();
    }
  }

  private socketForQuery(): PooledSocket {
    const live = this.pool.filter((pooled) => pooled.used < socketQueries);
    let pooled = live.length >= poolSize ? live[randomInt(0, live.length)]! : undefined;
    if (!pooled) {
      const socket = createSocket(this.family === 6 ? 'udp6' : 'udp4');
      socket.unref();
      pooled = { socket, used: 0, pending: new Map() };
      const own = pooled;
      socket.on('error', () => {});
      socket.on('message', (bytes, from) => this.deliver(own, bytes, normalizeHost(from.address), from.port));
      this.pool.push(pooled);
    }
    pooled.used++;
    return pooled;
  }

  private deliver(pooled: PooledSocket, bytes: Buffer, host: string, port: number): void {
    if (bytes.length < 12) return;
    const entry = pooled.pending.get(bytes.readUInt16BE(0));
    if (!entry || entry.server.host !== host || entry.server.port !== port) return;
    try {
      const answer = decodeMessage(bytes);
      if (matches(answer, bytes.readUInt16BE(0), entry.question)) entry.settle(undefined, answer);
    } catch {
      // Not the answer (garbage, a spoof that guessed the ID): keep waiting for the real one.
    }
  }

  /** A socket past its query budget closes once its last query is answered. */
  private retireIfDone(pooled: PooledSocket): void {
    if (pooled.used < socketQueries || pooled.pending.size > 0) return;
    const at = this.pool.indexOf(pooled);
    if (at >= 0) this.pool.splice(at, 1);
    pooled.socket.close();
  }
}

/** One UdpChannel per address family, made when first needed; closed with the DNS module. */
export class UdpChannels {
  private readonly channels = new Map<4 | 6, UdpChannel>();

  /** The channel of `family`. */
  of(family: 4 | 6): UdpChannel {
    let channel = this.channels.get(family);
    if (!channel) this.channels.set(family, (channel = new UdpChannel(family)));
    return channel;
  }

  /** Closes every socket. */
  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
