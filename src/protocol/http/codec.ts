/**
 * HTTP/1.x proxy request parsing (RFC 9112) as pure functions: request heads, chunked body
 * framing, the forward-proxy rewrite (absolute-form → origin-form, hop-by-hop headers out).
 */
import { SluiceError } from '../../common/errors.js';
import { parseHostPort, type Address } from '../../common/address.js';
import type { Parsed } from '../../common/handshake-reader.js';

/** Longest request head accepted (request line plus headers). */
export const maxHeadBytes = 64 * 1024;

/** A request the proxy answers with an HTTP status and closes. */
export class HttpError extends SluiceError {
  constructor(
    /** Status code to answer with. */
    readonly status: number,
    message: string,
  ) {
    super('SLUICE_HTTP_BAD_REQUEST', message);
  }
}

/** A parsed request line and header block. */
export interface RequestHead {
  /** Method, as sent (case-sensitive). */
  method: string;
  /** Request target: authority for CONNECT, absolute URI for proxied requests. */
  target: string;
  /** `HTTP/1.0` or `HTTP/1.1`. */
  version: string;
  /** Header fields in order, names as sent. */
  headers: [string, string][];
}

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A request target: visible ASCII only (no space, control byte or non-ASCII). */
const targetPattern = /^[\x21-\x7e]+$/;
/** A field value: visible characters, spaces and tabs; no CR, LF, NUL or other control byte (RFC 9110 §5.5). */
const fieldValuePattern = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Parses a request head ending in an empty line; undefined until the whole head is there.
 * Strict, because a proxy and the origin must agree on where a request ends (RFC 9112 §2.2,
 * §5): a bare CR or LF, a folded header line or a control byte in a value is a 400.
 */
export function parseRequestHead(buffer: Buffer): Parsed<RequestHead> | undefined {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buffer.length > maxHeadBytes) throw new HttpError(431, 'request head too large');
    if (!isPlausibleStart(buffer)) throw new HttpError(400, 'not an HTTP request');
    if (buffer.includes('\n\n') || buffer.includes('\r\r')) throw new HttpError(400, 'bare CR or LF in the request head');
    return undefined;
  }
  if (end > maxHeadBytes) throw new HttpError(431, 'request head too large');
  const text = buffer.toString('latin1', 0, end);
  if (/\r(?!\n)|(?<!\r)\n/.test(text)) throw new HttpError(400, 'bare CR or LF in the request head');
  const lines = text.split('\r\n');
  const requestLine = /^([^ ]+) ([^ ]+) (HTTP\/1\.[01])$/.exec(lines[0]!);
  if (!requestLine || !tokenPattern.test(requestLine[1]!) || !targetPattern.test(requestLine[2]!)) throw new HttpError(400, 'malformed request line');
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) headers.push(parseFieldLine(line));
  return {
    value: { method: requestLine[1]!, target: requestLine[2]!, version: requestLine[3]!, headers },
    length: end + 4,
  };
}

/** `Name: value` of a header or trailer line; obs-fold, a bad name or a control byte in the value is a 400. */
function parseFieldLine(line: string): [string, string] {
  const colon = line.indexOf(':');
  const name = line.slice(0, colon);
  if (colon <= 0 || !tokenPattern.test(name)) throw new HttpError(400, 'malformed header line');
  const value = line.slice(colon + 1);
  if (!fieldValuePattern.test(value)) throw new HttpError(400, `control byte in header ${name}`);
  return [name, value.trim()];
}

/** A request line starts with a token and a space; lets the parser reject garbage before a full head. */
function isPlausibleStart(buffer: Buffer): boolean {
  const space = buffer.indexOf(0x20);
  const head = buffer.toString('latin1', 0, space < 0 ? Math.min(buffer.length, 32) : space);
  return head.length <= 32 && (head === '' || tokenPattern.test(head));
}

/** The value of the first header named `name` (case-insensitive). */
export function headerValue(head: RequestHead, name: string): string | undefined {
  const lower = name.toLowerCase();
  return head.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** The destination of a CONNECT request (`host:port`, `[v6]:port`). */
export function connectTarget(head: RequestHead): Address {
  const address = parseHostPort(head.target);
  if (!address || address.host === '') throw new HttpError(400, 'CONNECT target must be host:port');
  return address;
}

/** A proxied request split into where it goes and what the origin server sees. */
export interface ForwardTarget {
  /** Origin host and port (default 80). */
  destination: Address;
  /** Origin-form target: path and query. */
  path: string;
  /** `host[:port]` for a Host header. */
  authority: string;
}

/** Splits an absolute-form `http://` target. Other schemes and origin-form targets are refused. */
export function forwardTarget(head: RequestHead): ForwardTarget {
  const m = /^http:\/\/([^/?#]+)([^#]*)/i.exec(head.target);
  if (!m) {
    const status = /^[a-z][a-z0-9+.-]*:\/\//i.test(head.target) ? 501 : 400;
    throw new HttpError(status, `a proxy request needs an absolute http:// URI, got '${head.target.slice(0, 64)}'`);
  }
  let authority = m[1]!;
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  const withPort = /:\d+$/.test(authority) ? authority : `${authority}:80`;
  const destination = parseHostPort(withPort);
  if (!destination) throw new HttpError(400, `bad host in '${head.target.slice(0, 64)}'`);
  const rest = m[2]!;
  return { destination, path: rest === '' || rest.startsWith('?') ? `/${rest}` : rest, authority };
}

/** Header names that describe one hop and never go to the origin (RFC 9110 §7.6.1, plus Proxy-*). */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'upgrade',
]);

/** True when the request asks to switch protocols (WebSocket and the like). */
export function isUpgrade(head: RequestHead): boolean {
  return headerValue(head, 'upgrade') !== undefined && connectionTokens(head).has('upgrade');
}

function connectionTokens(head: RequestHead): Set<string> {
  const tokens = new Set<string>();
  for (const [name, value] of head.headers) {
    if (name.toLowerCase() !== 'connection') continue;
    for (const token of value.split(',')) tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

/**
 * The request as the origin server should get it: origin-form target, hop-by-hop headers and
 * the headers named in Connection removed, and Host taken from the absolute URI's authority
 * (RFC 9112 §3.2.2: the client's own Host is ignored). An upgrade request keeps its Upgrade
 * and `Connection: Upgrade`. Content-Length stays; a chunked body is re-framed by the proxy.
 */
export function encodeForwardHead(head: RequestHead, target: ForwardTarget): Buffer {
  const dropped = connectionTokens(head);
  const upgrade = isUpgrade(head);
  let text = `${head.method} ${target.path} ${head.version}\r\nHost: ${target.authority}\r\n`;
  for (const [name, value] of head.headers) {
    const lower = name.toLowerCase();
    if (lower === 'upgrade' && upgrade) {
      text += `${name}: ${value}\r\n`;
      continue;
    }
    if (hopByHop.has(lower) || dropped.has(lower) || lower === 'host') continue;
    text += `${name}: ${value}\r\n`;
  }
  if (upgrade) text += 'Connection: Upgrade\r\n';
  return Buffer.from(text + '\r\n', 'latin1');
}

/** How the request body ends. */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

/**
 * The request's body framing from Transfer-Encoding / Content-Length (RFC 9112 §6). Both at
 * once, several Transfer-Encoding codings not ending in chunked, or Content-Length values that
 * differ are a 400: a proxy and an origin could read such a request two ways (smuggling).
 */
export function bodyFraming(head: RequestHead): BodyFraming {
  const codings = head.headers.filter(([n]) => n.toLowerCase() === 'transfer-encoding').map(([, v]) => v);
  const lengths = head.headers.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v);
  if (codings.length > 0) {
    if (lengths.length > 0) throw new HttpError(400, 'both Transfer-Encoding and Content-Length');
    if (!/(^|,)\s*chunked\s*$/i.test(codings.join(','))) throw new HttpError(400, 'unsupported Transfer-Encoding');
    return { kind: 'chunked' };
  }
  if (lengths.length === 0) return { kind: 'none' };
  if (!lengths.every((v) => v === lengths[0]) || !/^\d{1,15}$/.test(lengths[0]!)) {
    throw new HttpError(400, 'invalid Content-Length');
  }
  const length = Number(lengths[0]);
  return length === 0 ? { kind: 'none' } : { kind: 'length', length };
}

/** A line of chunked framing: a chunk-size line (size, with the line's raw length). */
export function parseChunkSizeLine(buffer: Buffer): Parsed<number> | undefined {
  const end = buffer.indexOf('\r\n');
  if (end < 0) {
    if (buffer.length > 1024) throw new HttpError(400, 'chunk size line too long');
    return undefined;
  }
  const m = /^([0-9a-fA-F]{1,12})(;[\t\x20-\x7e]*)?$/.exec(buffer.toString('latin1', 0, end));
  if (!m) throw new HttpError(400, 'malformed chunk size');
  return { value: parseInt(m[1]!, 16), length: end + 2 };
}

/** The CRLF that must follow a chunk's data; anything else is a 400. */
export function parseChunkEnd(buffer: Buffer): Parsed<true> | undefined {
  if (buffer.length < 2) {
    if (buffer.length === 1 && buffer[0] !== 0x0d) throw new HttpError(400, 'chunk data not followed by CRLF');
    return undefined;
  }
  if (buffer[0] !== 0x0d || buffer[1] !== 0x0a) throw new HttpError(400, 'chunk data not followed by CRLF');
  return { value: true, length: 2 };
}

/** One trailer line after the last chunk (checked like a header line); an empty line (value true) ends the body. */
export function parseTrailerLine(buffer: Buffer): Parsed<boolean> | undefined {
  const end = buffer.indexOf('\r\n');
  if (end < 0) {
    if (buffer.length > maxHeadBytes) throw new HttpError(400, 'trailer too long');
    return undefined;
  }
  if (end > 0) {
    const line = buffer.toString('latin1', 0, end);
    if (/[\r\n]/.test(line)) throw new HttpError(400, 'bare CR or LF in a trailer');
    parseFieldLine(line);
  }
  return { value: end === 0, length: end + 2 };
}

/** A complete short response the proxy itself sends (errors, 407, CONNECT established). */
export function encodeStatus(status: number, reason: string, extraHeaders: string[] = [], close = true): Buffer {
  const body = status >= 300 ? `${status} ${reason}\n` : '';
  const headers = [...extraHeaders];
  if (status >= 300) headers.push('Content-Type: text/plain', `Content-Length: ${body.length}`);
  if (close) headers.push('Connection: close');
  return Buffer.from(`HTTP/1.1 ${status} ${reason}\r\n${headers.map((h) => h + '\r\n').join('')}\r\n${body}`, 'latin1');
}
