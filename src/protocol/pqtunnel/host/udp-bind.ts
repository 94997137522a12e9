import type { Socket } from 'node:dgram';
import { normalizeHost } from '../../../common/address.js';
import type { Bind, Endpoint } from '../engine/seams.js';

/**
 * Send and receive buffer size asked for on tunnel sockets (the kernel caps it at
 * net.core.[rw]mem_max): a burst of full-size packets must not overflow the receive queue.
 */
export const tunnelSocketBuffer = 4 << 20;

/** The real Bind: a node:dgram socket. */
export function udpBind(socket: Socket): Bind {
  return {
    send: (datagram: Buffer, to: Endpoint) => socket.send(datagram, to.port, to.host),
    onReceive: (handler) => socket.on('message', (datagram, rinfo) => handler(datagram, { host: normalizeHost(rinfo.address), port: rinfo.port })),
    close: () => socket.close(),
  };
}
