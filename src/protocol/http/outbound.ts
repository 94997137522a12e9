import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn, StreamDialer } from '../../adapter/outbound.js';
import type { Address } from '../../common/address.js';
import { connectServer, type ServerConnectOptions } from '../../common/connect.js';
import { DialError, type DialFailure } from '../../common/errors.js';
import { clientHandshake } from '../../common/client-handshake.js';
import { startTls } from '../../common/tls-client.js';
import { HttpError, maxHeadBytes } from './codec.js';
import { encodeConnectRequest, parseConnectResponse } from './connect-codec.js';

/** A `type: http` proxy's settings. */
export interface HttpProxySettings {
  /** The server. */
  server: Address;
  /** Basic credentials, if the server wants them. */
  credentials: { username: string; password: string } | undefined;
  /** `tls`: an HTTPS proxy; `sni` replaces the server name, `skip-cert-verify` accepts any certificate. */
  tls: { servername: string; skipCertVerify: boolean } | undefined;
  /** `headers`: sent with every CONNECT. */
  headers: Readonly<Record<string, string>>;
}

/** What a proxy's refusal means for the flow. */
const failureByStatus: Readonly<Record<number, DialFailure>> = { 403: 'blocked', 502: 'host-unreachable', 503: 'host-unreachable', 504: 'timeout' };

/** A Clash `type: http` proxy: TCP flows through CONNECT tunnels (no UDP, as in mihomo). */
export class HttpProxyOutbound implements Outbound {
  readonly type = 'Http';

  constructor(
    readonly name: string,
    private readonly settings: HttpProxySettings,
    private readonly connect: ServerConnectOptions,
  ) {}

  async dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    const { server, tls } = this.settings;
    const tcp = await connectServer(server, flow, via, this.connect);
    const stream = tls ? await startTls(tcp, tls, flow.signal) : tcp;
    await this.tunnel(stream, flow.destination);
    return stream;
  }

  async listenPacket(): Promise<PacketConn> {
    throw new DialError('general', `proxy ${this.name}: an HTTP proxy carries no UDP`);
  }

  supportsUdp(): boolean {
    return false;
  }

  /** Sends CONNECT and waits for a 2xx; bytes after the response head are put back into the stream. */
  private tunnel(stream: Duplex, destination: Address): Promise<void> {
    const { name } = this;
    const { timeoutMs } = this.connect;
    const limits = {
      timeoutMs,
      maxBuffered: maxHeadBytes + 4,
      timeout: () => new DialError('timeout', `proxy ${name}: no answer to CONNECT within ${timeoutMs} ms`),
      failure: (error: unknown, streamError: Error | undefined) =>
        error instanceof HttpError
          ? new DialError('general', `proxy ${name}: ${error.message}`)
          : new DialError('general', `proxy ${name}: the server closed the connection before answering CONNECT${streamError ? ` (${streamError.message})` : ''}`),
    };
    return clientHandshake(stream, limits, async (reader) => {
      stream.write(encodeConnectRequest(destination, this.settings.credentials, this.settings.headers));
      const { status, reason } = await reader.read(parseConnectResponse);
      if (status >= 200 && status <= 299) return;
      const hint = status === 407 ? (this.settings.credentials ? ' (the user name or password is wrong)' : ' (it wants a user name and password)') : '';
      throw new DialError(failureByStatus[status] ?? 'general', `proxy ${name}: CONNECT answered ${status} ${reason}`.trimEnd() + hint);
    });
  }
}
