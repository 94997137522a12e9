// Sends random datagrams to HOST:PORT for SECONDS, at RATE per second (default: as fast as it can), printing how many it has
// sent so far every 100 ms (`sent N`): a third shaped like initiations (type 1, 1332 bytes: only mac1 tells them apart), a
// third like data messages (type 4), a third any bytes of any length up to 1500.
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

const [host, port, seconds, rate] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? Infinity)];
const socket = createSocket('udp4');
const pool = randomBytes(1 << 20);
let sent = 0;
const start = Date.now();
const deadline = start + seconds * 1000;

function datagram(i) {
  const at = (i * 7919) % (pool.length - 1500);
  switch (i % 3) {
    case 0: {
      const d = Buffer.from(pool.subarray(at, at + 1332));
      d[0] = 1;
      d[1] = d[2] = d[3] = 0;
      return d;
    }
    case 1: {
      const d = Buffer.from(pool.subarray(at, at + 32 + (i % 1400)));
      d[0] = 4;
      return d;
    }
    default:
      return pool.subarray(at, at + (i % 1500));
  }
}

const report = setInterval(() => process.stdout.write(`sent ${sent}\n`), 100);

function burst() {
  if (Date.now() > deadline) {
    clearInterval(report);
    return socket.close();
  }
  // Up to 256 at a time, never ahead of RATE.
  const due = Math.min(256, (rate * (Date.now() - start)) / 1000 - sent);
  for (let i = 0; i < due; i++) socket.send(datagram(sent++), port, host);
  setImmediate(burst);
}
socket.bind(0, '127.0.0.1', burst);
