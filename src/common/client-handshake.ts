/** The frame of a client handshake with a proxy server (SOCKS5, HTTP CONNECT): a time limit, errors as DialErrors, leftover bytes kept. */
import type { Duplex } from 'node:stream';
import { DialError } from './errors.js';
import { HandshakeReader } from './handshake-reader.js';

/** Limits of one handshake. */
export interface ClientHandshakeLimits {
  /** The handshake fails with `timeout()` after this long. */
  timeoutMs: number;
  /** Most bytes held while waiting for one server message. */
  maxBuffered: number;
  /** The error a handshake that ran out of time fails with. */
  timeout: () => DialError;
  /** The error anything else fails with: a parser's throw or a close (with the stream's error, if it had one). */
  failure: (error: unknown, streamError: Error | undefined) => DialError;
}

/**
 * Runs `exchange` over `stream` with a HandshakeReader. On success the bytes the server sent
 * after its last handshake message are put back into the stream; on failure the stream is
 * destroyed and the promise rejects with a DialError (the exchange's own, or `limits.failure`'s).
 */
export async function clientHandshake<T>(stream: Duplex, limits: ClientHandshakeLimits, exchange: (reader: HandshakeReader) => Promise<T>): Promise<T> {
  const reader = new HandshakeReader(stream, limits.maxBuffered);
  const timer = setTimeout(() => stream.destroy(limits.timeout()), limits.timeoutMs);
  let streamError: Error | undefined;
  const onError = (error: Error): void => void (streamError ??= error);
  stream.on('error', onError);
  try {
    const value = await exchange(reader);
    const leftover = reader.release();
    if (leftover.length > 0) stream.unshift(leftover);
    return value;
  } catch (error) {
    reader.release();
    stream.destroy();
    if (error instanceof DialError) throw error;
    if (streamError instanceof DialError) throw streamError;
    throw limits.failure(error, streamError);
  } finally {
    clearTimeout(timer);
    stream.off('error', onError);
  }
}
