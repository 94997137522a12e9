/**
 * DNS messages (RFC 1035) through the dns-packet library, with what it lacks in front: a
 * cheap check of the header counts before decoding (the library allocates arrays of those
 * counts first, so a forged header cost milliseconds), name checks before encoding (it writes
 * 64-byte labels without complaint), and builders of the answers sluice makes itself.
 */
import packet from 'dns-packet';
import { SluiceError } from '../common/errors.js';

/** A decoded message. */
export type DnsMessage = packet.Packet;
/** One question. */
export type DnsQuestion = packet.Question;
/** One resource record. */
export type DnsAnswer = packet.Answer;

/** RCODE values sluice answers with. */
export const Rcode = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5 } as const;

/** Header flag bits (second 16-bit word of the header). */
const flagQr = 0x8000;
const flagAa = 0x0400;
const flagTc = 0x0200;
const flagRd = 0x0100;
const flagRa = 0x0080;
const flagCd = 0x0010;

/** Bytes that are not a DNS message sluice accepts. */
export class DnsWireError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_DNS_BAD_MESSAGE', message);
  }
}

/**
 * Decodes a message; throws DnsWireError when it is shorter than a header, when its counts
 * cannot fit in its length (the smallest question is 5 bytes, the smallest record 11), or when
 * the library cannot read it.
 */
export function decodeMessage(bytes: Buffer): DnsMessage {
  if (bytes.length < 12) throw new DnsWireError(`a DNS message of ${bytes.length} bytes is shorter than its header`);
  const questions = bytes.readUInt16BE(4);
  const records = bytes.readUInt16BE(6) + bytes.readUInt16BE(8) + bytes.readUInt16BE(10);
  if (questions * 5 + records * 11 > bytes.length - 12) throw new DnsWireError('the DNS header counts more entries than the message holds');
  try {
    return packet.decode(bytes);
  } catch (error) {
    throw new DnsWireError(`undecodable DNS message: ${(error as Error).message}`);
  }
}

/** Encodes a message; throws DnsWireError for a name no DNS message can carry. */
export function encodeMessage(message: DnsMessage): Buffer {
  for (const section of [message.questions, message.answers, message.authorities, message.additionals]) {
    for (const entry of section ?? []) checkName(entry.name);
  }
  return packet.encode(message);
}

/** Labels of 1–63 bytes, at most 255 bytes in all (the root is `''` or `.`). */
function checkName(name: string): void {
  if (name === '' || name === '.') return;
  const labels = name.replace(/\.$/, '').split('.');
  if (Buffer.byteLength(name) > 253 || labels.some((label) => label.length === 0 || Buffer.byteLength(label) > 63)) {
    throw new DnsWireError(`'${name}' is not a name a DNS message can carry`);
  }
}

/** A message as DNS over TCP and TLS carry it: a 2-byte length first (RFC 7766). */
export function framed(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(2 + message.length);
  frame.writeUInt16BE(message.length, 0);
  message.copy(frame, 2);
  return frame;
}

/** The RCODE of a decoded message (dns-packet spells it). */
export function rcodeOf(message: DnsMessage): number {
  return (message.flags ?? 0) & 0x000f;
}

/** True when the message has TC set. */
export function isTruncated(message: DnsMessage): boolean {
  return ((message.flags ?? 0) & flagTc) !== 0;
}

/** A query for one question, RD set (what sluice sends upstream). */
export function queryFor(question: DnsQuestion, id: number): DnsMessage {
  return { type: 'query', id, flags: flagRd, questions: [question] };
}

/**
 * The answer sluice gives to `query`: its ID, question, RD and CD echoed, QR/AA/RA set, the
 * RCODE and these records.
 */
export function answerTo(query: DnsMessage, rcode: number, answers: DnsAnswer[] = [], extra: Pick<DnsMessage, 'authorities'> = {}): DnsMessage {
  const echoed = (query.flags ?? 0) & (flagRd | flagCd);
  return { type: 'response', id: query.id ?? 0, flags: flagQr | flagAa | flagRa | echoed | rcode, questions: query.questions ?? [], answers, authorities: extra.authorities ?? [] };
}

/** An upstream's answer passed on to a client: the client's ID and question, the upstream's records, flags and RCODE (AA/RA set). */
export function relayAnswer(query: DnsMessage, upstream: DnsMessage): DnsMessage {
  const echoed = (query.flags ?? 0) & (flagRd | flagCd);
  const kept = (upstream.flags ?? 0) & ~(flagRd | flagCd | flagTc);
  return {
    type: 'response',
    id: query.id ?? 0,
    flags: kept | flagQr | flagAa | flagRa | echoed,
    questions: query.questions ?? [],
    answers: upstream.answers ?? [],
    authorities: upstream.authorities ?? [],
    additionals: (upstream.additionals ?? []).filter((record) => record.type !== 'OPT'),
  };
}

/** The smallest TTL of a message's records (OPT left out); undefined when it has none. */
export function smallestTtl(message: DnsMessage): number | undefined {
  let smallest: number | undefined;
  for (const section of [message.answers, message.authorities, message.additionals]) {
    for (const record of section ?? []) {
      if (record.type === 'OPT') continue;
      const ttl = (record as { ttl?: number }).ttl ?? 0;
      smallest = smallest === undefined ? ttl : Math.min(smallest, ttl);
    }
  }
  return smallest;
}

/** The A and AAAA addresses in a message's answer section, whatever their owner name. */
export function addressesOf(message: DnsMessage): { address: string; family: 4 | 6; ttl: number }[] {
  const out: { address: string; family: 4 | 6; ttl: number }[] = [];
  for (const record of message.answers ?? []) {
    if (record.type === 'A' || record.type === 'AAAA') out.push({ address: record.data, family: record.type === 'A' ? 4 : 6, ttl: record.ttl ?? 0 });
  }
  return out;
}

/**
 * Fits an answer into `limit` bytes for UDP: whole records go from the end (additional, then
 * authority, then answer), and TC is set when an answer or authority record had to go.
 */
export function encodeWithin(message: DnsMessage, limit: number): Buffer {
  let bytes = encodeMessage(message);
  if (bytes.length <= limit) return bytes;
  const trimmed: DnsMessage = { ...message, answers: [...(message.answers ?? [])], authorities: [...(message.authorities ?? [])], additionals: [...(message.additionals ?? [])] };
  let dropped = false;
  while (bytes.length > limit) {
    if (trimmed.additionals!.length > 0) trimmed.additionals!.pop();
    else if (trimmed.authorities!.length > 0) (trimmed.authorities!.pop(), (dropped = true));
    else if (trimmed.answers!.length > 0) (trimmed.answers!.pop(), (dropped = true));
    else break;
    if (dropped) trimmed.flags = (trimmed.flags ?? 0) | flagTc;
    bytes = encodeMessage(trimmed);
  }
  return bytes;
}
