// Holds one TCP connection through a SOCKS5 port open without sending anything, run inside a
// network namespace by the socket option tests: node netns-socks-hold.mjs SOCKS_PORT HOST PORT
// → prints "held" once connected, and exits when the connection closes.
import { SocksClient } from 'socks';

const [socksPort, host, port] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const { socket } = await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port: socksPort, type: 5 }, command: 'connect', destination: { host, port } });
process.stdout.write('held\n');
socket.on('error', () => {});
socket.on('close', () => process.exit(0));
socket.resume();
