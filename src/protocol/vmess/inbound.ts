import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SniffClient } from '../../route/sniff/sniffer.js';
import type { FlowRequest } from '../../adapter/flow.js';
import type { Address } from '../../common/address.js';
import type { HandshakeReader } from '../../common/handshake-reader.js';
import { IdleTimer } from '../../common/idle-timer.js';
import { sourceOf, type ConnectionHandler, type Session } from '../listener.js';
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
    if (header.command === Command.tcp) await relayTcp(session, stream, { network: 'tcp', ...flowRequest });
    else await relayUdp(session, stream, { network: 'udp', ...flowRequest });
  };
}

/** Reads and discards until `budget` bytes came in (counting those already read), then closes. */
async function drain(reader: HandshakeReader, budget: number, socket: Socket): Promise<void> {
  await reader.read((buffer) => (buffer.length >= budget ? { value: true, length: buffer.length } : undefined)).catch(() => {});
  socket.destroy();
}

async function relayTcp(session: Session, stream: VmessStream, request: FlowRequest): Promise<void> {
  const { dispatcher } = session.context;
  const flow = dispatcher.open(request);
  // VMess has no success reply to send early: the client's first bytes follow the header.
  const client: SniffClient = { stream, head: Buffer.alloc(0), accepted: false, acceptEarly: () => {} };
  let remote: Duplex;
  try {
    remote = await dispatcher.connect(flow, client);
  } catch {
    stream.destroy();
    return;
  }
  await dispatcher.relay(flow, stream, remote, client.head.length > 0 ? client.head : undefined);
}

async function relayUdp(session: Session, stream: VmessStream, request: FlowRequest): Promise<void> {
  const { dispatcher } = session.context;
  const flow = dispatcher.open(request);
  const destination: Address = flow.destination;
  let conn;
  try {
    conn = await dispatcher.listenPacket(flow);
  } catch {
    stream.destroy();
    return;
  }
  const idle = new IdleTimer(dispatcher.timeouts.udpIdleMs, () => stream.destroy());
  conn.onPacket((datagram) => {
    if (stream.destroyed || stream.writableEnded || datagram.length > stream.maxPayload) return;
    idle.touch();
    flow.bytesDown += datagram.length;
    stream.write(datagram);
  });
  stream.on('data', (datagram: Buffer) => {
    idle.touch();
    flow.bytesUp += datagram.length;
    conn.send(datagram, destination);
  });
  stream.on('end', () => stream.end());
  flow.signal.addEventListener('abort', () => stream.destroy(), { once: true });
  await new Promise<void>((resolve) => stream.once('close', resolve));
  idle.stop();
  conn.close();
  dispatcher.close(flow);
}
