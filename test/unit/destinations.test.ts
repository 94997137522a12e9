// What a destination may be: the hostname alphabet every inbound's domain is checked against,
// the log escaping of anything that still gets through, and which addresses a listener's
// clients may reach directly (the guard DIRECT applies after DNS).
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hostProblem } from '../../src/common/address.js';
import { ListenerDestinationGuard } from '../../src/common/destination-guard.js';
import { Logger } from '../../src/common/log.js';

describe('destination names', () => {
  it('accepts IP literals and names of letters, digits, - _ . and non-ASCII (IDN)', () => {
    for (const host of ['example.com', 'a_b-c.example', '127.0.0.1', '::1', 'fe80::1%eth0', 'bücher.example', '例子.测试', 'xn--bcher-kva.example', 'a'.repeat(253)]) {
      expect(hostProblem(host), host).toBeUndefined();
    }
  });

  it('refuses control bytes, spaces, separators, empty and over-long names', () => {
    for (const host of ['localhost\0.evil', 'a\r\nINFO forged', 'a b', 'a/b', 'a:b', 'a@b', '', 'a'.repeat(254), 'x\u0085y', 'x\u2028y', 'a%00', 'a\tb']) {
      expect(hostProblem(host), JSON.stringify(host)).toBeDefined();
    }
  });

  it('the text log escapes control characters and line separators in messages and fields', () => {
    const lines: string[] = [];
    const logger = new Logger('debug', 'text', { write: (line: string) => lines.push(line) });
    logger.info('to evil\r\n2026-01-01T00:00:00.000Z INFO    forged\u2028x', { host: 'a\0b\nc', plain: 'ok' });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.trimEnd().split('\n')).toHaveLength(1);
    expect(lines[0]).toContain('to evil\\x0d\\x0a2026-01-01');
    expect(lines[0]).toContain('forged\\u2028x');
    expect(lines[0]).toContain('host="a\\u0000b\\nc"');
    expect(lines[0]).toContain('plain=ok');
  });
});

describe('destination guards', () => {
  const hostItself = ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '0.0.0.0', '0.1.2.3', '::', '::ffff:0.0.0.0'];

  it('a VMess server (remote users) reaches no loopback, unspecified, link-local, private, special or own address', () => {
    const guard = new ListenerDestinationGuard('remote', 'vmess-in');
    const own = Object.values(networkInterfaces()).flatMap((list) => list ?? []).map((a) => a.address.replace(/%.*$/, ''));
    const denied = [...hostItself, '169.254.169.254', 'fe80::1', '10.1.2.3', '172.16.0.9', '192.168.1.1', '100.64.0.1', 'fd00::1', '64:ff9b::a00:1', '224.0.0.1', '255.255.255.255', ...own];
    for (const ip of denied) expect(guard.problem(ip), ip).toMatch(/clients of listener vmess-in may not reach it \(allow-private-destinations opens it\)$/);
    for (const ip of ['8.8.8.8', '1.1.1.1', '2001:4860:4860::8888', '203.0.113.7']) expect(guard.problem(ip), ip).toBeUndefined();
  });

  it('a SOCKS/HTTP listener serving a LAN keeps the LAN reachable but not this host itself', () => {
    const guard = new ListenerDestinationGuard('lan', 'DEFAULT-MIXED');
    for (const ip of hostItself) expect(guard.problem(ip), ip).toBeDefined();
    for (const ip of ['192.168.1.10', '10.0.0.5', 'fd00::5', '8.8.8.8']) expect(guard.problem(ip), ip).toBeUndefined();
  });

  it('allow-private-destinations prefixes open exactly those prefixes', () => {
    const guard = new ListenerDestinationGuard('remote', 'vmess-in', ['127.0.0.2/32', '10.9.0.0/16']);
    expect(guard.problem('127.0.0.2')).toBeUndefined();
    expect(guard.problem('10.9.1.1')).toBeUndefined();
    expect(guard.problem('127.0.0.1')).toBeDefined();
    expect(guard.problem('10.8.1.1')).toBeDefined();
  });
});
