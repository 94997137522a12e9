import { once } from 'node:events';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Box } from '../../src/box.js';
import { Logger } from '../../src/common/log.js';
import { parseConfig } from '../../src/config/load.js';

describe('a slow /logs consumer', () => {
  it('at debug level under load, never reading: sluice drops records for it and memory stays bounded', async () => {
    const logger = new Logger('debug', 'text', { write: () => {} });
    const box = new Box(parseConfig("external-controller: 127.0.0.1:0\nrules: ['MATCH,DIRECT']\n"), logger);
    await box.start();
    const { port } = box.controller!.address();
    // A WebSocket client that completes the handshake and then never reads a byte.
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'GET /logs?level=debug HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const [head] = (await once(socket, 'data')) as [Buffer];
    expect(head.toString()).toMatch(/^HTTP\/1\.1 101/);
    socket.pause();
    try {
      // Garbage from the discarded records must not count: collect before each reading.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const used = (): number => {
        gc();
        const m = process.memoryUsage();
        return m.heapUsed + m.external;
      };
      const before = used();
      const record = 'x'.repeat(1000);
      // 300 MB of log records, in bursts so the server gets to write between them.
      for (let burst = 0; burst < 300; burst++) {
        for (let i = 0; i < 1000; i++) logger.debug(record, { i });
        await new Promise((resolve) => setImmediate(resolve));
      }
      const grown = (used() - before) / 2 ** 20;
      expect(grown).toBeLessThan(64);
    } finally {
      socket.destroy();
      await box.close(0);
    }
  }, 60_000);
});
