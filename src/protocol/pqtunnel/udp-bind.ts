import type { Socket } from 'node:dgram';
import { normalizeHost } from '../../common/address.js';
import type { Bind, Endpoint } from './seams.js';

/** The real Bind: a node:dgram socket. */
export function udpBind(socket: Socket): Bind {
  return {
    send: (datagram: Buffer, to: Endpoint) => socket.send(datagram, to.port, to.host),
    onReceive: (handler) => socket.on('message', (datagram, rinfo) => handler(datagram, { host: normalizeHost(rinfo.address), port: rinfo.port })),
    close: () => socket.close(),
  };
}
