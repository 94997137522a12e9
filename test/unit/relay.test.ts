import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { IdleTimeoutError, relay, type RelayOptions } from '../../src/common/relay.js';
import { closeServer, dial, listen, readAll, trackedServer } from '../helpers/net.js';

/** A loopback proxy whose only job is the relay under test, plus an origin the test scripts. */
async function setup(origin: (socket: Socket) => void, options: Partial<RelayOptions> = {}) {
  const originServer = trackedServer(origin);
  const originPort = await listen(originServer);
  const relays: { counters: { bytesUp: number; bytesDown: number }; done: Promise<Error | undefined>; remote: Socket; client: Socket }[] = [];
  const proxy = trackedServer((client) => {
    client.pause();
    const remote = connect({ port: originPort, host: '127.0.0.1', allowHalfOpen: true });
    remote.on('error', () => {});
    const counters = { bytesUp: 0, bytesDown: 0 };
    const done = once(remote, 'connect').then(() => relay(client, remote, counters, { idleTimeoutMs: 10_000, ...options }));
    relays.push({ counters, done, remote, client });
  });
  const proxyPort = await listen(proxy);
  cleanups.push(() => closeServer(proxy), () => closeServer(originServer));
  return { proxyPort, relays };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('relay', () => {
  it('keeps the other direction open after a half-close, and counts bytes', async () => {
    const { proxyPort, relays } = await setup((socket) => {
      readAll(socket).then((got) => socket.end(Buffer.concat([Buffer.from('got:'), got])));
    });
    const client = await dial(proxyPort);
    client.end('hello');
    expect((await readAll(client)).toString()).toBe('got:hello');
    expect(await relays[0]!.done).toBeUndefined();
    expect(relays[0]!.counters).toEqual({ bytesUp: 5, bytesDown: 9 });
  });

  it('stops reading from a fast sender while the receiver is paused, then delivers every byte in order', async () => {
    let originSocket: Socket | undefined;
    const { proxyPort, relays } = await setup((socket) => {
      socket.pause();
      originSocket = socket;
    });
    const client = await dial(proxyPort);
    const chunkSize = 64 * 1024;
    let sent = 0;
    const deadline = Date.now() + 1500;
    let maxBufferedInProxy = 0;
    while (Date.now() < deadline) {
      const chunk = Buffer.alloc(chunkSize);
      chunk.writeUInt32BE(sent / chunkSize, 0);
      sent += chunkSize;
      if (!client.write(chunk)) {
        const wait = new AbortController();
        await Promise.race([once(client, 'drain', { signal: wait.signal }).catch(() => {}), sleep(100)]);
        wait.abort();
      }
      const r = relays[0];
      if (r) maxBufferedInProxy = Math.max(maxBufferedInProxy, r.remote.writableLength + r.client.readableLength);
    }
    // Only socket buffers hold data: the relay keeps at most about one high-water mark queued.
    expect(maxBufferedInProxy).toBeLessThan(1024 * 1024);
    expect(sent - client.writableLength).toBeLessThan(64 * 1024 * 1024);
    client.end();
    const received = readAll(originSocket!);
    originSocket!.resume();
    const data = await received;
    expect(data.length).toBe(sent);
    for (let i = 0; i < data.length; i += chunkSize) expect(data.readUInt32BE(i)).toBe(i / chunkSize);
    originSocket!.end();
    await relays[0]!.done;
  });

  it('ends an idle flow with IdleTimeoutError and closes both sides', async () => {
    const { proxyPort, relays } = await setup(() => {}, { idleTimeoutMs: 300 });
    const client = await dial(proxyPort);
    client.write('x');
    const started = Date.now();
    await once(client, 'end');
    client.destroy();
    const error = await relays[0]!.done;
    expect(error).toBeInstanceOf(IdleTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(relays[0]!.remote.destroyed).toBe(true);
  });

  it('ends both sides when aborted, with the abort reason', async () => {
    const abort = new AbortController();
    const { proxyPort, relays } = await setup(() => {}, { signal: abort.signal });
    const client = await dial(proxyPort);
    await sleep(50);
    abort.abort(new Error('closed by controller'));
    await once(client, 'end');
    client.destroy();
    expect((await relays[0]!.done)?.message).toBe('closed by controller');
  });

  it('tears the remote down when the client resets', async () => {
    const { proxyPort, relays } = await setup(() => {});
    const client = await dial(proxyPort);
    await sleep(50);
    client.resetAndDestroy();
    expect(await relays[0]!.done).toBeInstanceOf(Error);
    expect(relays[0]!.remote.destroyed).toBe(true);
  });
});
