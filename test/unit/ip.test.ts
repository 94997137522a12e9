import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeHost, parseHostPort } from '../../src/common/address.js';
import { bytesToIp, ipToBytes, isGlobalUnicast } from '../../src/common/ip.js';

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

describe('which addresses interface-name and routing-mark apply to (Go\'s IsGlobalUnicast)', () => {
  it('leaves loopback, link-local, multicast, unspecified and broadcast unbound, binds the rest (private ranges too)', () => {
    for (const ip of ['127.0.0.1', '127.255.0.9', '169.254.1.1', '224.0.0.1', '239.1.2.3', '0.0.0.0', '255.255.255.255', '::', '::1', 'fe80::1', 'febf::1', 'ff02::1', '::ffff:127.0.0.1', 'example.com']) {
      expect(isGlobalUnicast(ip), ip).toBe(false);
    }
    for (const ip of ['10.0.0.1', '192.168.1.1', '172.16.0.1', '8.8.8.8', '0.1.2.3', '240.0.0.1', '2001:db8::1', 'fc00::1', 'fec0::1', '::ffff:10.1.2.3']) {
      expect(isGlobalUnicast(ip), ip).toBe(true);
    }
  });
});
