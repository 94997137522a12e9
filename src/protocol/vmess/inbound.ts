import type { Socket } from 'node:net';
import type { InboundPacketConn } from '../../adapter/inbound.js';
import { normalizeHost, type Address } from '../../common/address.js';
import type { HandshakeReader } from '../../common/handshake-reader.js';
import { sourceOf, type ConnectionHandler } from '../listener.js';
import { VmessAuthError } from './aead-header.js';
import { Command, VmessError } from './request-header.js';
import { serverSession, type VmessServer } from './server.js';
import { VmessStream } from './stream.js';

/** What the inbound knows of each VMess user. */
export interface VmessUserInfo {
  /** Name for IN-USER rules and logs. */
  username: string;
}

/**
 * Serves VMess clients (spec §5, §11): authenticates the request header, then relays TCP
 * or UDP for it. A client that fails authentication gets no byte back: the server reads
 * up to the drain budget (or until the handshake timeout) and closes.
 */
export function vmessHandler(server: VmessServer<VmessUserInfo>): ConnectionHandler {
  return async (socket, reader, session) => {
    let request;
    try {
      request = await reader.read((buffer) => server.open(buffer));
    } catch (error) {
      if (error instanceof VmessAuthError) return drain(reader, server.drainBudget(), socket);
      if (error instanceof VmessError) return void socket.destroy();
      throw error;
    }
    session.handshakeDone();
    const { header, user, legacy } = request;
    if (header.command === Command.mux) {
      session.context.logger.debug(`${session.context.name}: Mux.Cool is not supported; closing`);
      return void socket.destroy();
    }
    const stream = new VmessStream({ socket, ...serverSession(header, legacy), initial: reader.release() });
    const flowRequest = {
      inbound: { name: session.context.name, type: 'VMESS' as const, port: session.port, guard: session.context.guard },
      source: sourceOf(socket),
      destination: header.destination!,
      user: user.info.username,
    };
    const { dispatcher } = session.context;
    // VMess has no reply: the client's first bytes follow the header, and a failure only closes.
    if (header.command === Command.tcp) {
      await dispatcher.handleTcp({ network: 'tcp', ...flowRequest }, { stream, head: Buffer.alloc(0), accept: () => {}, reject: () => stream.destroy() });
    } else {
      await dispatcher.handleUdp({ network: 'udp', ...flowRequest }, packetConn(stream, flowRequest.destination));
    }
  };
}

/** Reads and discards until `budget` bytes came in (counting those already read), then closes. */
async function drain(reader: HandshakeReader, budget: number, socket: Socket): Promise<void> {
  await reader.read((buffer) => (buffer.length >= budget ? { value: true, length: buffer.length } : undefined)).catch(() => {});
  socket.destroy();
}

/** The client side of a VMess UDP request: one datagram per chunk, to the request's destination (spec §9). */
function packetConn(stream: VmessStream, requested: Address): InboundPacketConn {
  const destination = { host: normalizeHost(requested.host), port: requested.port };
  stream.on('end', () => stream.end());
  return {
    // A datagram too large for one chunk is dropped, as UDP allows (spec §7.8).
    send: (datagram) => {
      if (!stream.destroyed && !stream.writableEnded && datagram.length <= stream.maxPayload) stream.write(datagram);
    },
    onPacket: (handler) => void stream.on('data', (datagram: Buffer) => handler(datagram, destination)),
    onClose: (handler) => (stream.destroyed ? handler() : void stream.once('close', () => handler())),
    close: () => void stream.destroy(),
    reject: () => void stream.destroy(),
  };
}
