import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Client } from 'undici';
import { innerFlow } from '../../adapter/flow.js';
import type { Outbound } from '../../adapter/outbound.js';

/**
 * An undici Client for the URL's origin whose connection is dialed through an outbound
 * (DIRECT, a proxy or a group) as an INNER flow; TLS is added on top for https. Used by
 * health checks and by rule-provider downloads with `proxy:`. Close it when done.
 */
export function clientThrough(outbound: Outbound, url: URL, signal: AbortSignal, timeoutMs: number): Client {
  const secure = url.protocol === 'https:';
  const port = Number(url.port) || (secure ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Client(url.origin, {
    connect: (_options, callback) => {
      outbound.dial(innerFlow(host, port, signal)).then(
        (stream) => {
          if (!secure) return callback(null, stream as Socket);
          const tls = tlsConnect({ socket: stream as Socket, servername: host, ALPNProtocols: ['http/1.1'] });
          tls.once('secureConnect', () => callback(null, tls));
          tls.once('error', (error) => callback(error, null));
        },
        (error: Error) => callback(error, null),
      );
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}
