import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeHost, parseHostPort } from '../../src/common/address.js';
import { bytesToIp, ipToBytes } from '../../src/common/ip.js';

describe('IP literal bytes', () => {
  it('formats IPv6 in RFC 5952 form', () => {
    expect(bytesToIp(ipToBytes('2001:db8:0:0:0:0:2:1'))).toBe('2001:db8::2:1');
    expect(bytesToIp(ipToBytes('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(bytesToIp(ipToBytes('::'))).toBe('::');
    expect(bytesToIp(ipToBytes('::ffff:1.2.3.4'))).toBe('::ffff:1.2.3.4');
    expect(bytesToIp(ipToBytes('fe80::1'))).toBe('fe80::1');
  });

  it('round-trips every IPv4 and IPv6 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(bytesToIp(ipToBytes(ip))).toBe(ip);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        expect(ipToBytes(bytesToIp(bytes))).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('normalizes hosts the way the router compares them', () => {
    expect(normalizeHost('WWW.Example.COM.')).toBe('www.example.com');
    expect(normalizeHost('[::1]')).toBe('::1');
    expect(normalizeHost('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(parseHostPort('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(parseHostPort('example.com:443')).toEqual({ host: 'example.com', port: 443 });
    expect(parseHostPort('example.com:99999')).toBeUndefined();
    expect(parseHostPort('example.com')).toBeUndefined();
  });
});
