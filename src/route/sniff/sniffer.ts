import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import { hostProblem, ipFamily } from '../../common/address.js';
import type { SnifferConfig } from '../../config/types.js';
import { portInRanges } from '../rule/ports.js';
import { sniffHttp } from './http.js';
import { none, type SniffResult } from './result.js';
import { sniffTls } from './tls.js';

/** The client side of a TCP flow, lent to the dispatcher so it can read the first bytes before routing. */
export interface SniffClient {
  /** The client connection. */
  readonly stream: Duplex;
  /** Bytes already read past the handshake; sniffing appends what it reads, for the relay to send first. */
  head: Buffer;
  /** Sends the inbound's success reply now (a client only talks after it); marks the client accepted. */
  acceptEarly(): void;
  /** True once the success reply went out: a later dial failure can only close the connection. */
  accepted: boolean;
}

type Sniff = (data: Buffer) => SniffResult;

/** Sniffs TLS SNI / HTTP Host on the flows the `sniffer:` settings select. */
export class Sniffer {
  constructor(private readonly config: SnifferConfig) {}

  /**
   * Sniffs when the settings ask for it: answers the client early, reads its first bytes
   * (bounded wait, nothing consumed: they stay in `client.head`), and sets `flow.domain`
   * (and, with override-destination, the destination) from the name found.
   */
  async apply(flow: Flow, client: SniffClient): Promise<void> {
    const sniffers = this.sniffersFor(flow);
    if (sniffers.length === 0) return;
    client.acceptEarly();
    const found = await this.read(client, sniffers.map((s) => s.sniff));
    if (!found || ipFamily(found) !== 0 || hostProblem(found) || this.config.skipDomain(found)) return;
    flow.domain = found;
    if (sniffers.some((s) => s.override)) {
      flow.destination = { host: found, port: flow.destination.port };
      flow.ip = undefined;
    }
  }

  private sniffersFor(flow: Flow): { sniff: Sniff; override: boolean }[] {
    const c = this.config;
    if (c.skipSource(flow.source.host) || (flow.ip !== undefined && c.skipDestination(flow.ip))) return [];
    const hasHost = flow.ip === undefined;
    if (hasHost ? !c.forceDomain(flow.destination.host) : !c.parsePureIp) return [];
    const out: { sniff: Sniff; override: boolean }[] = [];
    if (c.tls && portInRanges(flow.destination.port, c.tls.ports)) out.push({ sniff: sniffTls, override: c.tls.overrideDestination });
    if (c.http && portInRanges(flow.destination.port, c.http.ports)) out.push({ sniff: sniffHttp, override: c.http.overrideDestination });
    return out;
  }

  /** Reads until a sniffer decides, the client stops, or the timeout passes (server-first protocols). */
  private read(client: SniffClient, sniffers: Sniff[]): Promise<string | undefined> {
    const decide = (): SniffResult => {
      let waiting = false;
      for (const sniff of sniffers) {
        const result = sniff(client.head);
        if (result.status === 'found') return result;
        if (result.status === 'more') waiting = true;
      }
      return waiting ? { status: 'more' } : none;
    };
    const first = decide();
    if (first.status !== 'more') return Promise.resolve(first.status === 'found' ? first.host : undefined);
    const { stream } = client;
    return new Promise((resolve) => {
      const finish = (host: string | undefined): void => {
        clearTimeout(timer);
        stream.off('data', onData);
        stream.off('end', onStop);
        stream.off('close', onStop);
        stream.pause();
        resolve(host);
      };
      const onData = (chunk: Buffer): void => {
        client.head = client.head.length === 0 ? chunk : Buffer.concat([client.head, chunk]);
        const result = decide();
        if (result.status !== 'more') finish(result.status === 'found' ? result.host : undefined);
      };
      const onStop = (): void => finish(undefined);
      const timer = setTimeout(onStop, this.config.timeoutMs);
      stream.on('data', onData);
      stream.once('end', onStop);
      stream.once('close', onStop);
      stream.resume();
    });
  }
}
