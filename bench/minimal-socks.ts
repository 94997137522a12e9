/**
 * Baseline for the connection-rate benchmark: the least a Node SOCKS5 server can do
 * (no auth, CONNECT to IPv4 only, no timeouts, no routing, no logging, stream.pipe relay).
 * Run as a child process: `node minimal-socks.js`; prints its port on stdout.
 */
import { connect, createServer, type AddressInfo } from 'node:net';

const greetingLength = 3;
const requestLength = 10;

const server = createServer({ noDelay: true }, (client) => {
  let buffered = Buffer.alloc(0);
  let greeted = false;
  client.on('error', () => client.destroy());
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    if (!greeted && buffered.length >= greetingLength) {
      greeted = true;
      buffered = buffered.subarray(greetingLength);
      client.write(Buffer.from([5, 0]));
    }
    if (!greeted || buffered.length < requestLength) return;
    client.off('data', onData);
    client.pause();
    const request = buffered;
    const host = `${request[4]}.${request[5]}.${request[6]}.${request[7]}`;
    const remote = connect({ host, port: request.readUInt16BE(8), noDelay: true }, () => {
      client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      if (request.length > requestLength) remote.write(request.subarray(requestLength));
      client.pipe(remote).pipe(client);
    });
    remote.on('error', () => client.destroy());
    client.on('close', () => remote.destroy());
  };
  client.on('data', onData);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => process.exit(0));
