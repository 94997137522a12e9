import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outbound } from '../../src/adapter/outbound.js';
import { DnsCache } from '../../src/common/dns-cache.js';
import { DirectOutbound } from '../../src/protocol/direct/outbound.js';
import { LoadBalanceGroup } from '../../src/route/group/load-balance.js';
import { SelectGroup } from '../../src/route/group/select.js';
import { SelectionStore } from '../../src/route/group/selection-store.js';
import { AutoGroup } from '../../src/route/group/url-test.js';
import { closeServer, listen } from '../helpers/net.js';
import { FakeOutbound, testFlow } from '../helpers/rules.js';

const health = createServer((req, res) => res.writeHead(req.url === '/teapot' ? 418 : 204).end());
let url = '';
const dns = new DnsCache({ ttlMs: 1000, maxEntries: 8, timeoutMs: 1000, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });

beforeAll(async () => {
  url = `http://127.0.0.1:${await listen(health)}`;
});
afterAll(() => closeServer(health));

function linked<T extends { link(map: ReadonlyMap<string, Outbound>): void }>(group: T, members: Outbound[]): T {
  group.link(new Map(members.map((m) => [m.name, m])));
  return group;
}

const check = (path = '/gen204') => ({ url: url + path, intervalMs: 0, timeoutMs: 2000, lazy: true });

describe('proxy groups', () => {
  it('select remembers its choice across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-select-'));
    try {
      const members = [new FakeOutbound('a'), new FakeOutbound('b')];
      const options = { name: 'PROXY', members: ['a', 'b'], disableUdp: false };
      const first = linked(new SelectGroup(options, new SelectionStore(join(dir, 'cache.json'))), members);
      expect(first.now).toBe('a');
      first.select('b');
      const again = linked(new SelectGroup(options, new SelectionStore(join(dir, 'cache.json'))), members);
      expect([again.now, again.pick().name]).toEqual(['b', 'b']);
      const changed = linked(new SelectGroup({ ...options, members: ['a'] }, new SelectionStore(join(dir, 'cache.json'))), members);
      expect(changed.now).toBe('a');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fallback uses the first alive member, checked with HEAD through each member; expected-status counts', async () => {
    const down = new FakeOutbound('down');
    const up = new DirectOutbound('up', dns, 1000);
    const group = linked(new AutoGroup({ name: 'fb', members: ['down', 'up'], disableUdp: false }, 'fallback', check()), [down, up]);
    expect(group.now).toBe('down'); // never tested counts as alive
    await group.health.checkAll();
    expect(group.health.of(down)).toEqual({ history: [0], alive: false });
    expect(group.health.of(up).alive).toBe(true);
    expect(group.now).toBe('up');
    const strict = linked(
      new AutoGroup({ name: 'st', members: ['up'], disableUdp: false }, 'fallback', { ...check('/teapot'), expectedStatus: '200/204' }),
      [up],
    );
    await strict.health.checkAll();
    expect(strict.health.of(up).alive).toBe(false);
    group.select('down');
    expect(group.now).toBe('up'); // a dead pinned member is not used
  });

  it('load-balance: round-robin cycles, consistent-hashing keeps a site on one member, sticky-sessions keeps source+site', async () => {
    const members = ['a', 'b', 'c'].map((n) => new FakeOutbound(n));
    const options = { name: 'lb', members: ['a', 'b', 'c'], disableUdp: false };
    const rr = linked(new LoadBalanceGroup(options, 'round-robin', check()), members);
    expect([1, 2, 3, 4].map(() => rr.pick(testFlow('x.test')).name)).toEqual(['a', 'b', 'c', 'a']);
    const ch = linked(new LoadBalanceGroup(options, 'consistent-hashing', check()), members);
    const site = (host: string) => ch.pick(testFlow(host)).name;
    expect(site('www.example.com')).toBe(site('cdn.example.com'));
    const spread = new Set(Array.from({ length: 60 }, (_, i) => site(`s${i}.test${i}.org`)));
    expect(spread.size).toBe(3);
    const sticky = linked(new LoadBalanceGroup(options, 'sticky-sessions', check()), members);
    const chosen = sticky.pick(testFlow('a.site.test')).name;
    for (let i = 0; i < 5; i++) expect(sticky.pick(testFlow('b.site.test')).name).toBe(chosen);
    // A dead member is skipped.
    const withDead = linked(new LoadBalanceGroup({ ...options, members: ['a', 'b'] }, 'round-robin', check()), members);
    await withDead.health.checkOne(members[0]!);
    expect([1, 2, 3].map(() => withDead.pick(testFlow('x.test')).name)).toEqual(['b', 'b', 'b']);
  });

  it('UDP support follows the member in use and disable-udp', () => {
    const members = [new FakeOutbound('tcp-only', false), new FakeOutbound('both')];
    const group = linked(new SelectGroup({ name: 'g', members: ['tcp-only', 'both'], disableUdp: false }, undefined), members);
    expect(group.supportsUdp()).toBe(false);
    group.select('both');
    expect(group.supportsUdp()).toBe(true);
    const off = linked(new SelectGroup({ name: 'g', members: ['both'], disableUdp: true }, undefined), members);
    expect(off.supportsUdp()).toBe(false);
  });
});
