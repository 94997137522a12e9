/**
 * Receiving end of the tunnel data-plane benchmark, run as its own process:
 * `node pq-receiver.js KEY_HEX|plain`. Prints its UDP port, counts datagrams (opening each
 * with the key unless `plain`), and prints `{ packets, bytes, seconds }` once 300 ms pass without one.
 */
import { createSocket } from 'node:dgram';
import { Keypair } from '../src/protocol/pqtunnel/engine/keypair.js';

const mode = process.argv[2]!;
const keypair = mode === 'plain' ? undefined : new Keypair(1, 1, Buffer.alloc(32), Buffer.from(mode, 'hex'), performance.now());
const socket = createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
let packets = 0;
let bytes = 0;
let first = 0;
let last = 0;

socket.on('message', (datagram) => {
  const now = performance.now();
  if (keypair) {
    const plain = keypair.open(datagram, now);
    if (!plain) return;
    bytes += plain.length;
  } else bytes += datagram.length;
  if (packets === 0) first = now;
  last = now;
  packets++;
});
// One timer for the whole run, not one per datagram: the receiver's own cost stays the opening.
setInterval(() => {
  if (packets === 0 || performance.now() - last < 300) return;
  process.stdout.write(JSON.stringify({ packets, bytes, seconds: (last - first) / 1000 }) + '\n');
  process.exit(0);
}, 50);
socket.bind(0, '127.0.0.1', () => process.stdout.write(`${socket.address().port}\n`));
