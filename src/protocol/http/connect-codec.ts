/**
 * The client's half of an HTTP CONNECT tunnel (RFC 9110 §9.3.6), for `type: http` proxies:
 * the request, and the status of the response head. Pure functions over bytes.
 */
import { formatAddress, type Address } from '../../common/address.js';
import type { Parsed } from '../../common/handshake-reader.js';
import { HttpError, maxHeadBytes } from './codec.js';

/** `CONNECT host:port HTTP/1.1` with Host, Basic credentials when given, and extra headers (`headers:` of the proxy). */
export function encodeConnectRequest(destination: Address, credentials: { username: string; password: string } | undefined, headers: Readonly<Record<string, string>>): Buffer {
  const authority = formatAddress(destination);
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (credentials) lines.push(`Proxy-Authorization: Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`);
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}

/** The status line of a proxy's response. */
export interface ConnectResponse {
  /** Status code. */
  status: number;
  /** Reason phrase, as sent. */
  reason: string;
}

/** Parses a response head ending in an empty line (its headers are skipped); undefined until it is all there. */
export function parseConnectResponse(buffer: Buffer): Parsed<ConnectResponse> | undefined {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buffer.length > maxHeadBytes) throw new HttpError(502, 'the proxy\'s response head is too large');
    if (buffer.length >= 5 && buffer.toString('latin1', 0, 5) !== 'HTTP/') throw new HttpError(502, 'the proxy did not answer in HTTP');
    return undefined;
  }
  if (end > maxHeadBytes) throw new HttpError(502, 'the proxy\'s response head is too large');
  const lineEnd = buffer.indexOf('\r\n');
  const line = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(buffer.toString('latin1', 0, lineEnd));
  if (!line) throw new HttpError(502, 'the proxy sent a malformed status line');
  return { value: { status: Number(line[1]), reason: line[2] ?? '' }, length: end + 4 };
}
