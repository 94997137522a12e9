import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSink, throughput, type Sink } from '../../src/bench/harness.js';
import { startSluice } from '../../src/bench/relay.js';
import { socksConnect } from '../../src/bench/socks-client.js';
import { closedPort } from '../helpers/net.js';

const uuid = '6a1e0f3c-5b2d-4c8e-9f7a-1b2c3d4e5f60';
const secret = 'gc-test';

type Sluice = Awaited<ReturnType<typeof startSluice>>;

/** Full (mark-compact) collections so far, from the process's GET /metrics. */
async function fullCollections(controllerPort: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${controllerPort}/metrics`, { headers: { authorization: `Bearer ${secret}` } });
  const text = await response.text();
  if (!text.includes('# TYPE sluice_nodejs_gc_duration_seconds histogram')) throw new Error('no GC histogram in /metrics');
  // The "major" series appears with the first full collection.
  return Number(/^sluice_nodejs_gc_duration_seconds_count\{kind="major"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

// `sluice run` paces V8's full collections (src/common/heap.ts). Without that, a long relay
// through this chain fell into a mark-compact every 20–40 ms in most runs (13–36 per GB).
describe('sluice run: V8 full collections while relaying (two real processes)', () => {
  let sink: Sink;
  let server: Sluice;
  let client: Sluice;
  const controllers: number[] = [];

  beforeAll(async () => {
    sink = await startSink();
    controllers.push(await closedPort(), await closedPort());
    const api = (port: number): string => `external-controller: 127.0.0.1:${port}\nsecret: ${secret}\n`;
    server = await startSluice(`${api(controllers[0]!)}listeners:\n  - { name: vm, type: vmess, port: 0, users: [{ username: u, uuid: ${uuid} }] }\nrules: ['MATCH,DIRECT']\n`, 'vm');
    client = await startSluice(
      `${api(controllers[1]!)}listeners: [{ name: socks, type: socks, port: 0 }]\nproxies:\n  - { name: p, type: vmess, server: 127.0.0.1, port: ${server.port}, uuid: ${uuid}, cipher: aes-128-gcm }\nrules: ['MATCH,p']\n`,
      'socks',
    );
  });

  afterAll(async () => {
    await client?.stop();
    await server?.stop();
    sink?.server.close();
  });

  it('relaying 1 GiB through a VMess client and server costs each at most 4 mark-compacts', async () => {
    const before = await Promise.all(controllers.map(fullCollections));
    await throughput(() => socksConnect(client.port, sink.port), sink, 1, 1 << 30);
    const after = await Promise.all(controllers.map(fullCollections));
    const spent = after.map((count, i) => count - before[i]!);
    expect(spent.every((count) => count <= 4), `mark-compacts (server, client): ${spent.join(', ')}`).toBe(true);
  }, 60_000);
});
