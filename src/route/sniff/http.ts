import { more, none, type SniffResult } from './result.js';

const maxHead = 8 * 1024;
const requestLine = /^[A-Z]{3,10} \S+ HTTP\/1\.[01]\r?$/;

/** Finds the Host of an HTTP/1 request ('more' until the header block is complete; port stripped). */
export function sniffHttp(data: Buffer): SniffResult {
  const firstLineEnd = data.indexOf('\n');
  const firstLine = data.toString('latin1', 0, firstLineEnd < 0 ? Math.min(data.length, 32) : firstLineEnd);
  if (firstLineEnd < 0) return /^[A-Z]{0,10}( |$)/.test(firstLine) && data.length < maxHead ? more : none;
  if (!requestLine.test(firstLine)) return none;
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return data.length < maxHead ? more : none;
  for (const line of data.toString('latin1', firstLineEnd + 1, end).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== 'host') continue;
    let host = line.slice(colon + 1).trim().toLowerCase();
    if (host.startsWith('[')) host = host.slice(1, host.indexOf(']'));
    else if (host.includes(':')) host = host.slice(0, host.lastIndexOf(':'));
    return host === '' ? none : { status: 'found', host: host.replace(/\.$/, '') };
  }
  return none;
}
