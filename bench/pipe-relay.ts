/**
 * Baseline for the relay benchmark: the plainest Node relay there is. Every accepted socket
 * is piped both ways to a fixed target with stream.pipe. Run as a child process:
 * `node pipe-relay.js TARGET_PORT`; prints its own port on stdout.
 */
import { connect, createServer, type AddressInfo } from 'node:net';

const targetPort = Number(process.argv[2]);
const server = createServer({ noDelay: true }, (client) => {
  const remote = connect({ port: targetPort, host: '127.0.0.1', noDelay: true });
  client.pipe(remote).pipe(client);
  const drop = (): void => {
    client.destroy();
    remote.destroy();
  };
  client.on('error', drop);
  remote.on('error', drop);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => process.exit(0));
