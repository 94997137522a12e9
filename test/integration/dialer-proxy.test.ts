import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Box } from '../../src/box.js';
import { Logger } from '../../src/common/log.js';
import { parseConfig } from '../../src/config/load.js';
import { closeServer, echoServer, eventually, listen, socksPing, startBox, startVmessServer, type RunningBox } from '../helpers/net.js';

const uuid = '7b4a7e8e-2f7f-4c4b-9d5e-1f0e4f5a6b7c';
const echo = echoServer();
let echoPort = 0;
let server: RunningBox;
let dialer: Box;
const dialerLogs: string[] = [];
let client: RunningBox;

beforeAll(async () => {
  echoPort = await listen(echo);
  server = await startVmessServer('final', uuid);
  // Only the dialer proxy knows where the final server is: the client's resolver knows no `final.test`.
  const resolve = async (host: string): Promise<LookupAddress[]> => {
    if (host === 'final.test') return [{ address: '127.0.0.1', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };
  dialer = new Box(
    parseConfig(`listeners:\n  - { name: hop-in, type: vmess, port: 0, allow-private-destinations: true, users: [{ username: hop, uuid: ${uuid} }] }\nrules: ['MATCH,DIRECT']`),
    new Logger('debug', 'text', { write: (line: string) => void dialerLogs.push(line) }),
    { resolve },
  );
  await dialer.start();
  const hopPort = dialer.inbounds[0]!.address().port;
  client = await startBox(`
listeners: [{ name: mix, type: mixed, port: 0 }]
proxies:
  - { name: hop, type: vmess, server: 127.0.0.1, port: ${hopPort}, uuid: ${uuid} }
  - { name: final, type: vmess, server: final.test, port: ${server.port()}, uuid: ${uuid}, alterId: 4, dialer-proxy: via }
  - { name: final-alone, type: vmess, server: final.test, port: ${server.port()}, uuid: ${uuid}, alterId: 4 }
proxy-groups:
  - { name: via, type: select, proxies: [hop] }
  - { name: PROXY, type: select, proxies: [final, final-alone] }
rules: ['MATCH,PROXY']`);
});

afterAll(async () => {
  await Promise.all([client?.close(), dialer?.close(200), server?.close(), closeServer(echo)]);
});

const roundTrip = (): Promise<string> => socksPing(client.port('mix'), echoPort);

describe('dialer-proxy', () => {
  it('reaches the proxy\'s server through the dialer proxy (a group), which alone can reach it', async () => {
    expect(await roundTrip()).toBe('ping');
    expect(await eventually(() => dialerLogs.some((l) => l.includes(`final.test:${server.port()}`)))).toBe(true);
    expect(await eventually(() => server.logs.some((l) => l.includes(`127.0.0.1:${echoPort}`)))).toBe(true);
  });

  it('without it the same server is out of reach: the path really went through the dialer', async () => {
    const group = client.box.groups.find((g) => g.name === 'PROXY')!;
    group.select!('final-alone');
    await expect(roundTrip()).rejects.toThrow();
    group.select!('final');
    expect(await roundTrip()).toBe('ping');
  });
});
