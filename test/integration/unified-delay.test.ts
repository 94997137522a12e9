/** `unified-delay`: a delay test times a second request on the same connection, leaving the dial and handshakes out (as mihomo does). */
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Flow } from '../../src/adapter/flow.js';
import type { Outbound, PacketConn } from '../../src/adapter/outbound.js';
import { DnsCache } from '../../src/common/dns-cache.js';
import { DirectOutbound } from '../../src/protocol/direct/outbound.js';
import { measureDelay } from '../../src/route/group/health-check.js';
import { closeServer, listen } from '../helpers/net.js';

let requests = 0;
const origin = createServer((request, response) => {
  requests++;
  response.writeHead(request.url === '/second-fails' && requests % 2 === 0 ? 500 : 204).end();
});
let url = '';
beforeAll(async () => {
  url = `http://127.0.0.1:${await listen(origin)}`;
});
afterAll(() => closeServer(origin));

/** DIRECT whose every dial takes 300 ms longer (a far proxy's handshake). */
const direct = new DirectOutbound('DIRECT', new DnsCache({ ttlMs: 1000, maxEntries: 10, timeoutMs: 1000 }), 2000);
const slow: Outbound = {
  type: 'Direct',
  name: 'slow',
  async dial(flow: Flow): Promise<Duplex> {
    await sleep(300);
    return direct.dial(flow);
  },
  listenPacket: (): Promise<PacketConn> => Promise.reject(new Error('no UDP')),
  supportsUdp: () => false,
};

describe('delay tests with and without unified-delay', () => {
  it('counts the 300 ms dial without it, and leaves it out with it (one connection, two requests)', async () => {
    requests = 0;
    expect(await measureDelay(slow, `${url}/`, 5000)).toBeGreaterThanOrEqual(300);
    expect(requests).toBe(1);
    requests = 0;
    expect(await measureDelay(slow, `${url}/`, 5000, undefined, true)).toBeLessThan(150);
    expect(requests).toBe(2);
  });

  it('checks the expected status on the response it timed', async () => {
    requests = 0;
    await expect(measureDelay(slow, `${url}/second-fails`, 5000, [{ from: 204, to: 204 }], true)).rejects.toThrow(/status 500/);
  });
});
