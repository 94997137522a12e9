import { more, none, type SniffResult } from './result.js';

/** Largest ClientHello we wait for (post-quantum key shares make them ~2 KB; 16 KB is plenty). */
const maxHello = 16 * 1024;

/**
 * Finds the SNI in a TLS ClientHello. The hello may span several records and arrive in
 * pieces: 'more' until it is complete, 'none' for anything that is not a ClientHello.
 */
export function sniffTls(data: Buffer): SniffResult {
  // Concatenate the payloads of the leading handshake records.
  const chunks: Buffer[] = [];
  let offset = 0;
  let have = 0;
  let needed = -1;
  while (true) {
    if (data.length - offset < 5) return data.length === 0 || data[0] === 0x16 ? more : none;
    if (data[offset] !== 0x16 || data[offset + 1] !== 0x03) return none;
    const length = data.readUInt16BE(offset + 3);
    if (length === 0 || length > 16384 + 2048) return none;
    const available = Math.min(length, data.length - offset - 5);
    chunks.push(data.subarray(offset + 5, offset + 5 + available));
    have += available;
    if (needed < 0 && have >= 4) {
      const head = Buffer.concat(chunks);
      if (head[0] !== 0x01) return none;
      needed = 4 + head.readUIntBE(1, 3);
      if (needed > maxHello) return none;
    }
    if (needed >= 0 && have >= needed) break;
    if (available < length) return more;
    offset += 5 + length;
  }
  return parseHello(Buffer.concat(chunks).subarray(4, needed));
}

function parseHello(hello: Buffer): SniffResult {
  let p = 2 + 32; // legacy_version, random
  if (p + 1 > hello.length) return none;
  p += 1 + hello[p]!; // session id
  if (p + 2 > hello.length) return none;
  p += 2 + hello.readUInt16BE(p); // cipher suites
  if (p + 1 > hello.length) return none;
  p += 1 + hello[p]!; // compression methods
  if (p + 2 > hello.length) return none;
  const end = Math.min(hello.length, p + 2 + hello.readUInt16BE(p));
  p += 2;
  while (p + 4 <= end) {
    const type = hello.readUInt16BE(p);
    const length = hello.readUInt16BE(p + 2);
    p += 4;
    if (p + length > end) return none;
    if (type === 0) return serverName(hello.subarray(p, p + length));
    p += length;
  }
  return none;
}

function serverName(ext: Buffer): SniffResult {
  if (ext.length < 2) return none;
  const end = Math.min(ext.length, 2 + ext.readUInt16BE(0));
  let p = 2;
  while (p + 3 <= end) {
    const type = ext[p]!;
    const length = ext.readUInt16BE(p + 1);
    p += 3;
    if (p + length > end) return none;
    if (type === 0) {
      const host = ext.toString('latin1', p, p + length).toLowerCase().replace(/\.$/, '');
      return /^[a-z0-9._-]+$/.test(host) && host !== '' ? { status: 'found', host } : none;
    }
    p += length;
  }
  return none;
}
