/**
 * The little of the protobuf wire format v2ray's geodata files need: walking the fields of a
 * message (varints and length-delimited values; fixed-width ones skipped). A full protobuf
 * library would decode every message of a 5 MB geosite.dat up front; these readers index the
 * top-level entries and decode only the categories rules name.
 */

/** One field of a message: its number, and its varint value or the bounds of its bytes. */
export interface ProtoField {
  /** Field number. */
  field: number;
  /** Wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). */
  wire: number;
  /** The value of a varint field (numbers beyond 2^53 lose precision; geodata has none). */
  value: number;
  /** Start of a length-delimited field's bytes. */
  start: number;
  /** End of a length-delimited field's bytes. */
  end: number;
}

/** Thrown for bytes that are not a well-formed message. */
export class ProtoError extends Error {}

/** Reads a varint at `at`; returns the value and the offset after it. */
function varint(data: Uint8Array, at: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (at >= end) throw new ProtoError('truncated varint');
    const byte = data[at++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at];
    scale *= 128;
  }
  throw new ProtoError('varint longer than 10 bytes');
}

/** The fields of the message in `data[start, end)`, in order. Throws ProtoError on malformed bytes. */
export function* fields(data: Uint8Array, start = 0, end = data.length): Generator<ProtoField> {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = varint(data, at, end);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new ProtoError('field number 0');
    at = afterTag;
    switch (wire) {
      case 0: {
        const [value, next] = varint(data, at, end);
        yield { field, wire, value, start: at, end: next };
        at = next;
        break;
      }
      case 2: {
        const [length, next] = varint(data, at, end);
        if (length > end - next) throw new ProtoError('length-delimited field runs past its message');
        yield { field, wire, value: length, start: next, end: next + length };
        at = next + length;
        break;
      }
      case 1:
      case 5: {
        const size = wire === 1 ? 8 : 4;
        if (at + size > end) throw new ProtoError('truncated fixed-width field');
        at += size;
        break;
      }
      default:
        throw new ProtoError(`unsupported wire type ${wire}`);
    }
  }
}

const utf8 = new TextDecoder();

/** A length-delimited field's bytes as UTF-8 text. */
export function text(data: Uint8Array, field: ProtoField): string {
  return utf8.decode(data.subarray(field.start, field.end));
}

/**
 * The categories of a v2ray geodata list (GeoSiteList or GeoIPList: repeated entries whose field 1
 * is the category code): lower-case code → the entry's bytes. Throws an Error naming `what` when
 * the bytes are not such a list.
 */
export function indexCategories(data: Uint8Array, what: string): Map<string, { start: number; end: number }> {
  const index = new Map<string, { start: number; end: number }>();
  try {
    for (const entry of fields(data)) {
      if (entry.field !== 1 || entry.wire !== 2) continue;
      for (const field of fields(data, entry.start, entry.end)) {
        if (field.field === 1 && field.wire === 2) {
          index.set(text(data, field).toLowerCase(), { start: entry.start, end: entry.end });
          break;
        }
      }
    }
  } catch (error) {
    if (error instanceof ProtoError) throw new Error(`not a ${what}: ${error.message}`);
    throw error;
  }
  return index;
}
