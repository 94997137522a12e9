import type { Socket } from 'node:net';
import type { InboundInfo } from '../../adapter/flow.js';
import type { Address } from '../../common/address.js';
import { checkCredentials } from '../../common/auth.js';
import type { RepliedFailure } from '../../common/errors.js';
import type { HandshakeReader } from '../../common/handshake-reader.js';
import { replyAndClose, sourceOf, usersFor, type ConnectionHandler, type Session } from '../listener.js';
import {
  Command,
  encodeAuthStatus,
  encodeMethodChoice,
  encodeReply,
  Method,
  parseCredentials,
  parseGreeting,
  parseRequest,
  Reply,
  SocksError,
} from './codec.js';
import { UdpAssociation } from './udp-association.js';

const replyForFailure: Record<RepliedFailure, number> = {
  general: Reply.generalFailure,
  blocked: Reply.notAllowed,
  'network-unreachable': Reply.networkUnreachable,
  'host-unreachable': Reply.hostUnreachable,
  refused: Reply.connectionRefused,
  timeout: Reply.ttlExpired,
  'invalid-destination': Reply.hostUnreachable,
};

/** Serves one SOCKS5 client: greeting, optional RFC 1929 auth, then CONNECT or UDP ASSOCIATE. */
export const handleSocks: ConnectionHandler = async (socket, reader, session) => {
  try {
    const user = await negotiate(socket, reader, session);
    if (user === null) return;
    const request = await reader.read(parseRequest);
    if (request.command === Command.connect) return await connect(socket, reader, session, request.address, user);
    if (request.command === Command.udpAssociate && session.context.udp) {
      return await associate(socket, reader, session, request.address, user);
    }
    replyAndClose(socket, encodeReply(Reply.commandNotSupported));
  } catch (error) {
    if (!(error instanceof SocksError) || error.reply === undefined) throw error;
    replyAndClose(socket, encodeReply(error.reply));
  }
};

/** Runs method selection and auth; resolves to the user name, undefined without auth, null when refused. */
async function negotiate(socket: Socket, reader: HandshakeReader, session: Session): Promise<string | undefined | null> {
  const { methods } = await reader.read(parseGreeting);
  const users = usersFor(session, socket);
  if (!users) {
    if (methods.includes(Method.noAuth)) {
      socket.write(encodeMethodChoice(Method.noAuth));
      return undefined;
    }
  } else if (methods.includes(Method.userPass)) {
    socket.write(encodeMethodChoice(Method.userPass));
    const { username, password } = await reader.read(parseCredentials);
    const ok = checkCredentials(users, username, password);
    if (ok) {
      socket.write(encodeAuthStatus(true));
      return username;
    }
    session.context.logger.warn(`${session.context.name}: SOCKS5 authentication failed`, { source: socket.remoteAddress });
    replyAndClose(socket, encodeAuthStatus(false));
    return null;
  }
  replyAndClose(socket, encodeMethodChoice(Method.noAcceptable));
  return null;
}

/** CONNECT: the dispatcher routes and dials; the reply carries the outcome. */
async function connect(socket: Socket, reader: HandshakeReader, session: Session, destination: Address, user?: string): Promise<void> {
  session.handshakeDone();
  await session.context.dispatcher.handleTcp(
    { network: 'tcp', inbound: inboundInfo(session), source: sourceOf(socket), destination, user },
    {
      stream: socket,
      head: reader.release(),
      accept: (bound) => socket.write(encodeReply(Reply.succeeded, bound)),
      reject: (failure) => replyAndClose(socket, encodeReply(replyForFailure[failure])),
    },
  );
}

async function associate(socket: Socket, reader: HandshakeReader, session: Session, expected: Address, user?: string): Promise<void> {
  session.handshakeDone();
  reader.release();
  const association = await UdpAssociation.open({
    control: socket,
    expectedClient: expected,
    inbound: inboundInfo(session),
    user,
    dispatcher: session.context.dispatcher,
  });
  socket.write(encodeReply(Reply.succeeded, association.address()));
  await association.closed;
}

/** The listener facts a flow records. */
function inboundInfo(session: Session): InboundInfo {
  return { name: session.context.name, type: 'SOCKS5', port: session.port, guard: session.context.guard };
}
