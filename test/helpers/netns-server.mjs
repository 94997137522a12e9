// A test host's services, run inside a network namespace by test/helpers/netns.ts:
// HTTP on HOST:PORT (GET / answers the client's address, GET /bytes/N streams N bytes of a
// fixed pattern, GET /random/N sends N random bytes with their SHA-256 in x-sha256, POST /sha256
// answers the SHA-256 of the body) and a UDP echo on HOST:PORT that prefixes each reply with
// the sender's address.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';

const [host, port] = [process.argv[2], Number(process.argv[3])];
const chunk = Buffer.alloc(65536, 'sluice-netns-pattern;');

createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/sha256') {
    const hash = createHash('sha256');
    req.on('data', (data) => hash.update(data));
    req.on('end', () => res.end(hash.digest('hex')));
    return;
  }
  const random = /^\/random\/(\d+)$/.exec(req.url ?? '');
  if (random) {
    const body = randomBytes(Number(random[1]));
    res.writeHead(200, { 'content-length': body.length, 'x-sha256': createHash('sha256').update(body).digest('hex') });
    return res.end(body);
  }
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
