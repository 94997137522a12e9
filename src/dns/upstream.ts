/**
 * DNS servers sluice asks (spec dns.md §4): nameserver entries parsed, and one exchange each
 * over UDP (retried over TCP when the answer is truncated), TCP (RFC 7766 framing, one
 * connection per query as mihomo does), or `rcode://` (a synthetic answer, no query).
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { dohUpstream } from './doh.js';
import { UdpChannels } from './udp-channel.js';
import { matches, tlsName, type ServerTarget, type StreamOpener, type Upstream } from './exchange.js';
import { normalizeHost } from '../common/address.js';
import { answerTo, decodeMessage, encodeMessage, framed, isTruncated, queryFor, Rcode, type DnsMessage } from './wire.js';


const rcodeNames: Readonly<Record<string, number>> = {
  success: Rcode.noError, format_error: Rcode.formErr, server_failure: Rcode.servFail, name_error: Rcode.nxDomain, not_implemented: Rcode.notImp, refused: Rcode.refused,
};

/** Schemes sluice knows but cannot use yet (warned about and skipped). */
const laterSchemes = new Set(['http', 'quic', 'dhcp']);

/** Resolves a DNS server's host name to one address (hosts:, then default-nameserver). */
export type Bootstrap = (host: string) => Promise<string>;

/** What parsed servers use at run time; checking a config needs none of it. */
export interface NameserverContext {
  /** Resolves server host names. */
  bootstrap?: Bootstrap;
  /** The opener of a `#proxy` suffix's outbound. */
  through?: (proxy: string) => StreamOpener | undefined;
  /** The UDP sockets the module's UDP servers share. */
  udp?: UdpChannels;
}

/** Without a bootstrap (checking a config), names cannot be resolved. */
const noBootstrap: Bootstrap = (host) => Promise.reject(new Error(`${host}: no default-nameserver to resolve it`));

const defaultPorts: Readonly<Record<string, number>> = { udp: 53, tcp: 53, tls: 853, https: 443 };

/**
 * Parses one nameserver entry (`8.8.8.8`, `udp://h:p`, `tcp://h:p`, `tls://h:p`,
 * `https://h/path`, `rcode://name_error`, `system`; `#PROXY` and `#skip-cert-verify=true`).
 * Host names are resolved through `bootstrap` when used. Returns the upstream, or `{ skipped }`
 * for what sluice cannot use yet (quic://, dhcp://, #RULES, a UDP server through a proxy,
 * other parameters); throws for an invalid entry.
 */
export function parseNameserver(entry: string, context: NameserverContext = {}): Upstream | { skipped: string } {
  const { bootstrap = noBootstrap, through = () => undefined, udp = new UdpChannels() } = context;
  const text = entry === 'system' ? 'system://' : isIP(entry) ? `udp://${isIP(entry) === 6 ? `[${entry}]` : entry}` : entry.includes('://') ? entry : `udp://${entry}`;
  const scheme = text.slice(0, text.indexOf('://'));
  if (scheme === 'system') return systemUpstream(entry, udp);
  if (scheme === 'rcode') {
    const code = rcodeNames[text.slice('rcode://'.length)];
    if (code === undefined) throw new Error(`'${entry}': rcode:// takes ${Object.keys(rcodeNames).join(', ')}`);
    return { name: entry, synthetic: true, exchange: async (question) => answerTo(queryFor(question, 0), code) };
  }
  if (laterSchemes.has(scheme)) return { skipped: `'${entry}': ${scheme}:// servers are not supported by sluice yet` };
  if (!(scheme in defaultPorts)) throw new Error(`'${entry}': unsupported scheme ${scheme}://`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`'${entry}' is not a nameserver address`);
  }
  const fragment = decodeURIComponent(url.hash.slice(1)).split('&').filter(Boolean);
  const skipCertVerify = fragment.includes('skip-cert-verify=true');
  const proxy = fragment.find((item) => !item.includes('='));
  const unknown = fragment.filter((item) => item.includes('=') && item !== 'skip-cert-verify=true');
  if (unknown.length > 0) return { skipped: `'${entry}': #${unknown.join('&')} is not supported by sluice yet` };
  if (proxy === 'RULES') return { skipped: `'${entry}': #RULES (routing DNS by the rules) is not supported by sluice yet` };
  if (proxy !== undefined && scheme === 'udp') return { skipped: `'${entry}': UDP servers through a proxy are not supported by sluice yet (write tcp://, tls:// or https://)` };
  const host = normalizeHost(url.hostname.replace(/^\[|\]$/g, ''));
  const port = Number(url.port) || defaultPorts[scheme]!;
  const address = (): Promise<string> => (isIP(host) !== 0 ? Promise.resolve(host) : bootstrap(host));
  const opener = proxy === undefined ? undefined : through(proxy);
  const target: ServerTarget = {
    host, port, skipCertVerify, address,
    open: opener ? (signal) => opener(host, port, signal) : async () => connect({ host: await address(), port, noDelay: true }),
  };
  if (scheme === 'udp') return udpUpstream(entry, target, udp);
  if (scheme === 'tcp') return streamUpstream(entry, target, (signal) => target.open(signal));
  if (scheme === 'tls') return streamUpstream(entry, target, async (signal) => tlsConnect({ socket: await target.open(signal), ...tlsName(host), rejectUnauthorized: !skipCertVerify }));
  url.hash = '';
  url.search = '';
  return dohUpstream(entry, url, target);
}

/** UDP to one server; a truncated answer is asked again over TCP. */
function udpUpstream(name: string, target: ServerTarget, udp: UdpChannels): Upstream {
  const tcp = streamUpstream(name, target, (signal) => target.open(signal));
  return {
    name,
    async exchange(question, signal) {
      const host = await target.address();
      const answer = await udp.of(isIP(host) === 6 ? 6 : 4).exchange({ host, port: target.port }, question, signal);
      return isTruncated(answer) ? tcp.exchange(question, signal) : answer;
    },
  };
}

/** TCP or TLS to one server: a connection per query, a 2-byte length before each message. */
function streamUpstream(name: string, target: ServerTarget, open: (signal: AbortSignal) => Promise<Duplex>): Upstream {
  return {
    name,
    exchange: async (question, signal) => {
      const server = { host: target.host, port: target.port };
      const socket = await open(signal);
      return new Promise((resolve, reject) => {
        const id = randomInt(0, 65536);
        let received = Buffer.alloc(0);
        const done = (error?: Error, answer?: DnsMessage): void => {
          signal.removeEventListener('abort', onAbort);
          socket.destroy();
          if (error) reject(error);
          else resolve(answer!);
        };
        const onAbort = (): void => done(new Error(`no answer from ${server.host}:${server.port} over TCP`));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        socket.on('error', (error) => done(error));
        socket.on('end', () => done(new Error(`${server.host}:${server.port} closed the TCP connection without an answer`)));
        socket.on('data', (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
          try {
            const answer = decodeMessage(received.subarray(2, 2 + received.readUInt16BE(0)));
            if (!matches(answer, id, question)) throw new Error(`${server.host}:${server.port} answered another question`);
            done(undefined, answer);
          } catch (error) {
            done(error as Error);
          }
        });
        socket.write(framed(encodeMessage(queryFor(question, id))));
      });
    },
  };
}

/** `system`: the servers of /etc/resolv.conf over UDP, raced; read when first used. */
function systemUpstream(name: string, udp: UdpChannels): Upstream {
  let servers: Upstream[] | undefined;
  return {
    name,
    exchange(question, signal) {
      servers ??= resolvConfServers().map((host) => udpUpstream(`system ${host}`, { host, port: 53, skipCertVerify: false, address: () => Promise.resolve(host), open: async () => connect({ host, port: 53, noDelay: true }) }, udp));
      if (servers.length === 0) return Promise.reject(new Error('system: /etc/resolv.conf names no nameserver'));
      return Promise.any(servers.map((server) => server.exchange(question, signal)));
    },
  };
}

function resolvConfServers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
      .filter((host): host is string => host !== undefined && isIP(host) !== 0);
  } catch {
    return [];
  }
}
