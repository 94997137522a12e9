/** TLS on top of a connection to a proxy server (`tls: true` of socks5 and http proxies). */
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import { DialError } from './errors.js';

/** How the server is checked. */
export interface TlsClientOptions {
  /** Name sent as SNI and checked against the certificate (an IP literal is checked, not sent). */
  servername: string;
  /** `skip-cert-verify`: accept any certificate. */
  skipCertVerify: boolean;
}

/** Runs a TLS handshake over `stream`; rejects with a DialError naming the server when it fails or `signal` aborts. */
export function startTls(stream: Duplex, options: TlsClientOptions, signal: AbortSignal): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const literal = isIP(options.servername) !== 0;
    const tls = connect({
      socket: stream,
      host: options.servername,
      ...(literal ? {} : { servername: options.servername }),
      rejectUnauthorized: !options.skipCertVerify,
    });
    const settle = (error?: Error): void => {
      signal.removeEventListener('abort', onAbort);
      tls.off('secureConnect', onConnect);
      tls.off('error', settle);
      if (!error) return resolve(tls);
      tls.destroy();
      stream.destroy();
      reject(error instanceof DialError ? error : new DialError('general', `TLS handshake with ${options.servername} failed: ${error.message}`, { cause: error }));
    };
    const onConnect = (): void => settle();
    const onAbort = (): void => settle(new DialError('general', `TLS handshake with ${options.servername} aborted`));
    tls.once('secureConnect', onConnect);
    tls.once('error', settle);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
