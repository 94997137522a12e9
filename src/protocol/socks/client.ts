/** The client side of a SOCKS5 handshake over an open connection, for `type: socks5` proxies. */
import type { Duplex } from 'node:stream';
import type { Address } from '../../common/address.js';
import { DialError, type DialFailure } from '../../common/errors.js';
import { clientHandshake } from '../../common/client-handshake.js';
import { Method, Reply, SocksError, type Credentials } from './codec.js';
import { encodeCredentials, encodeGreeting, encodeRequest, parseAuthStatus, parseMethodChoice, parseReplyMessage } from './client-codec.js';

/** What a failing REP code says, and what it means for the flow (general failure unless listed). */
const replyMeaning: Readonly<Record<number, readonly [string, DialFailure?]>> = {
  [Reply.generalFailure]: ['general failure'],
  [Reply.notAllowed]: ['not allowed by its rules', 'blocked'],
  [Reply.networkUnreachable]: ['network unreachable', 'network-unreachable'],
  [Reply.hostUnreachable]: ['host unreachable', 'host-unreachable'],
  [Reply.connectionRefused]: ['connection refused', 'refused'],
  [Reply.ttlExpired]: ['TTL expired', 'timeout'],
  [Reply.commandNotSupported]: ['command not supported'],
  [Reply.addressTypeNotSupported]: ['address type not supported'],
};

/** One SOCKS5 request to make. */
export interface SocksRequest {
  /** The proxy's name, for messages. */
  proxy: string;
  /** User name and password, when the server wants them. */
  credentials: Credentials | undefined;
  /** CONNECT or UDP ASSOCIATE. */
  command: number;
  /** Where to (0.0.0.0:0 for UDP ASSOCIATE). */
  destination: Address;
  /** The handshake fails with a timeout after this long. */
  timeoutMs: number;
}

/**
 * Greets, authenticates and sends one request over `stream`; resolves to the server's bound
 * address once it replied success. Bytes the server sent after its reply are put back into the
 * stream. Rejects with a DialError (the REP code's meaning) and destroys the stream on failure.
 */
export function socksHandshake(stream: Duplex, request: SocksRequest): Promise<Address> {
  const { proxy, credentials } = request;
  const limits = {
    timeoutMs: request.timeoutMs,
    maxBuffered: 1024,
    timeout: () => new DialError('timeout', `proxy ${proxy}: no SOCKS5 reply within ${request.timeoutMs} ms`),
    failure: (error: unknown, streamError: Error | undefined) =>
      error instanceof SocksError
        ? new DialError('general', `proxy ${proxy}: ${error.message}`)
        : new DialError('general', `proxy ${proxy}: the SOCKS5 server closed the connection during the handshake${streamError ? ` (${streamError.message})` : ''}`),
  };
  return clientHandshake(stream, limits, async (reader) => {
    stream.write(encodeGreeting(credentials !== undefined));
    const method = await reader.read(parseMethodChoice);
    if (method === Method.userPass && credentials) {
      stream.write(encodeCredentials(credentials.username, credentials.password));
      if (!(await reader.read(parseAuthStatus))) throw new DialError('general', `proxy ${proxy}: the SOCKS5 server refused the user name or password`);
    } else if (method !== Method.noAuth) {
      const wanted = method === Method.userPass ? 'a user name and password, and none is configured' : `method ${method}, which sluice does not offer`;
      throw new DialError('general', `proxy ${proxy}: the SOCKS5 server wants ${wanted}`);
    }
    stream.write(encodeRequest(request.command, request.destination));
    const { reply, bound } = await reader.read(parseReplyMessage);
    if (reply !== Reply.succeeded) {
      const [text = `code ${reply}`, failure = 'general'] = replyMeaning[reply] ?? [];
      throw new DialError(failure, `proxy ${proxy}: the SOCKS5 server replied ${text}`);
    }
    return bound;
  });
}
