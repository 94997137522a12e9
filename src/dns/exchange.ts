/** What every kind of DNS server exchange shares (spec dns.md §4). */
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { DnsMessage, DnsQuestion } from './wire.js';

/** One DNS server of a list. */
export interface Upstream {
  /** As written in the config, for messages. */
  readonly name: string;
  /** `rcode://`: answers without asking anyone, and its answer wins a race at once. */
  readonly synthetic?: boolean;
  /** Asks one question; rejects on a transport error, a timeout or an answer that does not match. */
  exchange(question: DnsQuestion, signal: AbortSignal): Promise<DnsMessage>;
  /** Closes kept-alive connections (DoH). */
  close?(): Promise<void>;
}

/** Where a server is: its host as written (the TLS name), port, and how to get its address. */
export interface ServerTarget {
  /** Host as written: an IP literal or a name. */
  host: string;
  /** Port. */
  port: number;
  /** The address to connect to (the literal, or the name through the bootstrap). */
  address(): Promise<string>;
  /** `#skip-cert-verify=true`: accept any certificate (tls://, https://). */
  skipCertVerify: boolean;
  /** A TCP connection to the server: direct to its address, or through the `#proxy` outbound (which gets the name). */
  open(signal: AbortSignal): Promise<Duplex>;
}

/** Opens a stream to host:port through an outbound (a `#proxy` suffix). */
export type StreamOpener = (host: string, port: number, signal: AbortSignal) => Promise<Duplex>;

/** The TLS server name options for `host`: SNI and certificate check by name, or (an IP) no SNI and a check against its IP SAN. */
export function tlsName(host: string): { servername?: string; checkServerIdentity?: (name: string, cert: PeerCertificate) => Error | undefined } {
  if (isIP(host) === 0) return { servername: host };
  return { checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) };
}

/** True when `answer` answers our query `id` for `question` (name compared without case). */
export function matches(answer: DnsMessage, id: number, question: DnsQuestion): boolean {
  const asked = answer.questions?.[0];
  return answer.type === 'response' && answer.id === id && asked !== undefined && asked.type === question.type && asked.name.toLowerCase() === question.name.toLowerCase();
}
