/**
 * sluice's DNS server on `dns.listen` (spec dns.md §9): UDP and TCP on one address. Garbage
 * and answers are dropped, malformed queries get FORMERR with their ID, UDP answers are cut to
 * the client's EDNS size (512 without EDNS) with TC set, TCP takes RFC 7766 framing with
 * pipelining, an 8 s idle limit and at most 128 queries per connection.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from '../common/log.js';
import type { DnsHandler } from './handler.js';
import { answerTo, decodeMessage, encodeMessage, encodeWithin, framed, Rcode, type DnsMessage } from './wire.js';

const tcpIdleMs = 8000;
const tcpMaxQueries = 128;
/** Our EDNS UDP size (RFC 9715's advice). */
const ednsSize = 1232;

/** A running DNS server. */
export class DnsServer {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<Socket>();

  constructor(
    private readonly handler: () => DnsHandler,
    private readonly logger: Logger,
  ) {}

  /** Binds UDP and TCP on host:port; rejects when either cannot bind. */
  async listen(host: string, port: number): Promise<void> {
    const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    udp.on('message', (bytes, from) => {
      this.answerDatagram(bytes).then(
        (reply) => reply && this.udp === udp && udp.send(reply, from.port, from.address),
        (error: unknown) => this.logger.debug(`DNS server: no answer for a query from ${from.address}: ${(error as Error).message}`),
      );
    });
    udp.on('error', (error) => this.logger.warn(`DNS server UDP: ${error.message}`));
    const bound = once(udp, 'listening');
    udp.bind(port, host);
    try {
      await bound;
    } catch (error) {
      udp.close();
      throw error;
    }
    const tcp = createServer((socket) => this.serveConnection(socket));
    // Port 0 picks a UDP port; TCP takes the same one.
    tcp.listen(udp.address().port, host);
    try {
      await once(tcp, 'listening');
    } catch (error) {
      udp.close();
      throw error;
    }
    this.udp = udp;
    this.tcp = tcp;
    this.logger.info(`DNS server on ${host}:${port} (UDP and TCP)`);
  }

  /** Closes both sockets and every TCP connection. */
  async close(): Promise<void> {
    this.udp?.close();
    for (const socket of this.connections) socket.destroy();
    if (this.tcp) await new Promise<void>((resolve) => this.tcp!.close(() => resolve()));
    this.udp = undefined;
    this.tcp = undefined;
  }

  /** The answer to one UDP datagram, or undefined when it gets none. */
  private async answerDatagram(bytes: Buffer): Promise<Buffer | undefined> {
    const query = this.accept(bytes);
    if (!query) return undefined;
    if ('reply' in query) return query.reply;
    const answer = await this.handler().answer(query);
    const opt = query.additionals?.find((record) => record.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const limit = opt ? Math.min(4096, Math.max(512, opt.udpPayloadSize ?? 512)) : 512;
    return encodeWithin(withEdns(answer, opt !== undefined), limit);
  }

  /** Decodes a query; undefined when it gets no answer at all, `{ reply }` for FORMERR. */
  private accept(bytes: Buffer): DnsMessage | { reply: Buffer } | undefined {
    if (bytes.length < 12 || (bytes[2]! & 0x80) !== 0) return undefined;
    try {
      return decodeMessage(bytes);
    } catch {
      const header: DnsMessage = { type: 'query', id: bytes.readUInt16BE(0), flags: bytes.readUInt16BE(2) & 0x0110 };
      return { reply: encodeMessage(answerTo(header, Rcode.formErr)) };
    }
  }

  private serveConnection(socket: Socket): void {
    this.connections.add(socket);
    socket.setTimeout(tcpIdleMs, () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => {});
    let buffered: Buffer = Buffer.alloc(0);
    let served = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (length === 0) return void socket.destroy();
        if (buffered.length < 2 + length) return;
        if (++served > tcpMaxQueries) return void socket.destroy();
        const bytes = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        this.answerFrame(bytes).then(
          (reply) => {
            if (!reply || socket.destroyed) return;
            socket.write(framed(reply));
          },
          (error: unknown) => {
            this.logger.debug(`DNS server: no answer over TCP: ${(error as Error).message}`);
            socket.destroy();
          },
        );
      }
    });
  }

  private async answerFrame(bytes: Buffer): Promise<Buffer | undefined> {
    const query = this.accept(bytes);
    if (!query) return undefined;
    if ('reply' in query) return query.reply;
    const answer = await this.handler().answer(query);
    return encodeMessage(withEdns(answer, query.additionals?.some((record) => record.type === 'OPT') ?? false));
  }
}

/** The answer with our OPT record when the query had one (RFC 6891). */
function withEdns(answer: DnsMessage, edns: boolean): DnsMessage {
  if (!edns) return answer;
  return { ...answer, additionals: [...(answer.additionals ?? []), { type: 'OPT', name: '.', udpPayloadSize: ednsSize } as never] };
}
