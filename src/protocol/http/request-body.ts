/**
 * Reading an HTTP request body off the client connection, checked and re-framed piece by
 * piece (RFC 9112 §6, §7.1): a Content-Length body as it arrives, a chunked body with each
 * size line re-encoded without extensions. Pieces go to an `emit` callback; a slow origin
 * is waited for through the promise it returns.
 */
import type { HandshakeReader } from '../../common/handshake-reader.js';
import { parseChunkEnd, parseChunkSizeLine, parseTrailerLine } from './codec.js';

/** Receives the body's pieces; a returned promise is waited for before the next one is read. */
export type Emit = (piece: Buffer) => Promise<void> | void;

const crlf = Buffer.from('\r\n', 'latin1');

/** Hands exactly `length` body bytes from the client to `emit`, piece by piece as they arrive. */
export async function passBytes(reader: HandshakeReader, length: number, emit: Emit): Promise<void> {
  let left = length;
  while (left > 0) {
    const piece = await reader.read((buffer) => {
      const n = Math.min(buffer.length, left);
      return { value: buffer.subarray(0, n), length: n };
    });
    left -= piece.length;
    await emit(piece);
  }
}

/**
 * Reads one chunk (or the last one with its trailers), checked, and hands its pieces to
 * `emit` as they arrive: the size line re-encoded without extensions, the data, the CRLF
 * after it. True for the last chunk. Throws HttpError(400) on broken framing.
 */
export async function readChunk(reader: HandshakeReader, emit: Emit): Promise<boolean> {
  const size = await reader.read(parseChunkSizeLine);
  await emit(Buffer.from(`${size.toString(16)}\r\n`, 'latin1'));
  if (size === 0) {
    for (;;) {
      const trailer = await reader.read(rawLine(parseTrailerLine));
      await emit(trailer.raw);
      if (trailer.value) return true;
    }
  }
  await passBytes(reader, size, emit);
  await reader.read(parseChunkEnd);
  await emit(crlf);
  return false;
}

/**
 * Reads chunks, checked and re-framed, until the body ends or `limit` bytes are held;
 * nothing is sent yet. Throws HttpError(400) on broken framing.
 */
export async function holdChunks(reader: HandshakeReader, limit: number): Promise<{ pieces: Buffer[]; done: boolean }> {
  const pieces: Buffer[] = [];
  let size = 0;
  for (;;) {
    const last = await readChunk(reader, (piece) => {
      pieces.push(piece);
      size += piece.length;
    });
    if (last) return { pieces, done: true };
    if (size >= limit) return { pieces, done: false };
  }
}

/** Streams the rest of a chunked body, checked and re-framed. */
export async function forwardChunks(reader: HandshakeReader, emit: Emit): Promise<void> {
  while (!(await readChunk(reader, emit)));
}

/** Wraps a line parser so the raw bytes of the line come back too (they are forwarded as sent). */
function rawLine<T>(parse: (buffer: Buffer) => { value: T; length: number } | undefined) {
  return (buffer: Buffer) => {
    const parsed = parse(buffer);
    return parsed && { value: { value: parsed.value, raw: buffer.subarray(0, parsed.length) }, length: parsed.length };
  };
}
