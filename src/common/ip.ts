import { isIP } from 'node:net';

/** The 4 or 16 network-order bytes of an IP literal; throws on anything else. */
export function ipToBytes(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw new Error(`not an IP address: '${ip}'`);
  let text = ip;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const out = Buffer.alloc(16);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    ipToBytes(dotted[1]!).copy(out, 12);
    text = text.slice(0, dotted.index) + '0:0';
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  groups.forEach((g, i) => {
    if (dotted && i >= 6) return;
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  });
  return out;
}

/** Formats 4 or 16 bytes as an IP literal; IPv6 in RFC 5952 form, IPv4-mapped as `::ffff:a.b.c.d`. */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new Error(`an IP address has 4 or 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytesToIp(bytes.subarray(12))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * Go's `IsGlobalUnicast`: false for unspecified, loopback, link-local (169.254/16, fe80::/10),
 * multicast and the IPv4 broadcast address, true for every other unicast address (private
 * ranges included). IPv4-mapped IPv6 addresses count as their IPv4 address; false for non-IPs.
 */
export function isGlobalUnicast(ip: string): boolean {
  if (isIP(ip) === 0) return false;
  let bytes = ipToBytes(ip);
  if (bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) bytes = bytes.subarray(12);
  if (bytes.length === 4) {
    const [a, b] = bytes as unknown as [number, number];
    const unspecified = bytes.every((x) => x === 0);
    const broadcast = bytes.every((x) => x === 255);
    return !unspecified && !broadcast && a !== 127 && !(a === 169 && b === 254) && (a & 0xf0) !== 0xe0;
  }
  if (bytes.every((b) => b === 0) || (bytes.subarray(0, 15).every((b) => b === 0) && bytes[15] === 1)) return false;
  return bytes[0] !== 0xff && !(bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80);
}
