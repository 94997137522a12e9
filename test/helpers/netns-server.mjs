// A test host's services, run inside a network namespace by test/helpers/netns.ts:
// HTTP on HOST:PORT (GET / answers the client's address, GET /bytes/N streams N bytes of a
// fixed pattern) and a UDP echo on HOST:PORT that prefixes each reply with the sender's address.
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';

const [host, port] = [process.argv[2], Number(process.argv[3])];
const chunk = Buffer.alloc(65536, 'sluice-netns-pattern;');

createServer((req, res) => {
  const size = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  if (!size) return res.end(`${req.socket.remoteAddress}\n`);
  let left = Number(size[1]);
  res.writeHead(200, { 'content-length': left });
  const pump = () => {
    while (left > 0) {
      const piece = chunk.subarray(0, Math.min(left, chunk.length));
      left -= piece.length;
      if (!res.write(piece)) return res.once('drain', pump);
    }
    res.end();
  };
  pump();
}).listen(port, host, () => process.stdout.write('ready\n'));

const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
udp.on('message', (msg, from) => udp.send(Buffer.concat([Buffer.from(`${from.address} `), msg]), from.port, from.address));
udp.bind(port, host);
