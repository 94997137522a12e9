// One datagram through a SOCKS5 UDP ASSOCIATE, run inside a network namespace by the tunnel
// tests: node netns-socks-udp.mjs SOCKS_PORT HOST PORT MESSAGE → prints the reply's payload.
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { SocksClient } from 'socks';

const [socksPort, host, port, message] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4]), process.argv[5]];
const udp = createSocket('udp4');
await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
const client = new SocksClient({
  proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
  command: 'associate',
  destination: { host: '0.0.0.0', port: udp.address().port },
});
const established = once(client, 'established');
client.connect();
const [{ socket, remoteHost }] = await established;
const timer = setTimeout(() => {
  process.stderr.write('no reply\n');
  process.exit(1);
}, 5000);
udp.on('message', (datagram) => {
  process.stdout.write(SocksClient.parseUDPFrame(datagram).data.toString());
  clearTimeout(timer);
  udp.close();
  socket.destroy();
});
udp.send(SocksClient.createUDPFrame({ remoteHost: { host, port }, data: Buffer.from(message) }), remoteHost.port, '127.0.0.1');
