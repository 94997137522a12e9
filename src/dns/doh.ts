/**
 * DNS over HTTPS (RFC 8484, spec dns.md §4.4): GET `?dns=` with the query (ID 0) in base64url,
 * over undici with HTTP/2 where the server offers it and kept-alive connections; the TLS
 * connection goes to the bootstrapped address with the URL's host as its name.
 */
import { connect as tlsConnect } from 'node:tls';
import { Client } from 'undici';
import { matches, tlsName, type ServerTarget, type Upstream } from './exchange.js';
import { decodeMessage, encodeMessage, queryFor, type DnsMessage } from './wire.js';

/** How long opening a connection to the server may take. */
const connectTimeoutMs = 10_000;

/** Largest answer body read (a DNS message is at most 64 KiB). */
const maxBody = 65535;

/** A DoH server at `url` (query string and fragment already removed). */
export function dohUpstream(name: string, url: URL, target: ServerTarget): Upstream {
  let client: Client | undefined;
  const clientFor = (): Client =>
    (client ??= new Client(url.origin, {
      allowH2: true,
      keepAliveTimeout: 300_000,
      connect: (_options, callback) => {
        target.open(AbortSignal.timeout(connectTimeoutMs)).then(
          (stream) => {
            const socket = tlsConnect({ socket: stream, ...tlsName(target.host), ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: !target.skipCertVerify });
            socket.once('secureConnect', () => callback(null, socket));
            socket.once('error', (error) => callback(error, null));
          },
          (error: Error) => callback(error, null),
        );
      },
    }));
  return {
    name,
    async exchange(question, signal): Promise<DnsMessage> {
      const query = encodeMessage(queryFor(question, 0)).toString('base64url');
      const response = await clientFor().request({ method: 'GET', path: `${url.pathname}?dns=${query}`, headers: { accept: 'application/dns-message' }, signal });
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw new Error(`${name} answered HTTP ${response.statusCode}`);
      }
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of response.body) {
        length += (chunk as Buffer).length;
        if (length > maxBody) throw new Error(`${name} sent an answer over ${maxBody} bytes`);
        chunks.push(chunk as Buffer);
      }
      const answer = decodeMessage(Buffer.concat(chunks));
      if (!matches(answer, 0, question)) throw new Error(`${name} answered another question`);
      return answer;
    },
    async close() {
      await client?.destroy().catch(() => {});
      client = undefined;
    },
  };
}
