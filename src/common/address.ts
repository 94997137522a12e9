import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** A destination or source as a proxy protocol names it: an IP literal or a domain, and a port. */
export interface Address {
  /** IPv4/IPv6 literal (without brackets) or a domain name. */
  host: string;
  /** TCP/UDP port, 0–65535. */
  port: number;
}

/** 4 for an IPv4 literal, 6 for an IPv6 literal, 0 for a domain. */
export function ipFamily(host: string): 0 | 4 | 6 {
  return isIP(host) as 0 | 4 | 6;
}

/** Formats an address for logs and URLs: IPv6 literals get brackets. */
export function formatAddress(address: Address): string {
  return ipFamily(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/**
 * Normalizes a host as the router compares it: lower case, one trailing dot removed,
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`) turned into the IPv4 literal, brackets removed.
 */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.') && h.length > 1) h = h.slice(0, -1);
  if (h.startsWith('::ffff:')) {
    const tail = h.slice(7);
    if (isIP(tail) === 4) return tail;
  }
  return h;
}

/** Parses `host:port`, `[v6]:port`; returns undefined when it is not that shape. */
export function parseHostPort(text: string): Address | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!, port };
}

/** True for loopback addresses (127.0.0.0/8, ::1, IPv4-mapped forms) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = normalizeHost(host);
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/**
 * Why `host` cannot be a destination, or undefined when it can: an IP literal, or a name of at
 * most 253 characters from the hostname alphabet (letters, digits, `-`, `_`, `.`) or non-ASCII
 * (IDN). A NUL, CR, LF, space or other control byte in a name made rules see one host while the
 * dial went to another, and forged log lines.
 */
export function hostProblem(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined;
  if (host.length === 0) return 'empty domain name';
  if (host.length > 253) return `domain name of ${host.length} characters (at most 253)`;
  if (!hostnameAlphabet.test(host)) return 'domain name with a character outside the hostname alphabet';
  return undefined;
}

/** Letters, digits, `-`, `_`, `.`, and non-ASCII except C1 controls and line/paragraph separators. */
const hostnameAlphabet = /^[A-Za-z0-9._\-\u00a0-\u2027\u202a-\uffff]+$/;

/** This machine's interface addresses, zone ids removed (`fe80::1%eth0` → `fe80::1`); `internal` marks loopback ones. */
export function hostAddresses(): { address: string; internal: boolean }[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => ({ address: entry.address.replace(/%.*$/, ''), internal: entry.internal })));
}
