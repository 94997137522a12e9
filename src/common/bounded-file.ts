/**
 * Reading files a config names: only regular files, only up to a size limit. A FIFO, a
 * device such as /dev/zero or a symlink to one is refused instead of blocking or filling
 * memory; the file is opened non-blocking, so even opening a FIFO returns at once.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Largest config file read (YAML or JSON). */
export const maxConfigBytes = 16 << 20;
/** Largest rule-provider file or download. */
export const maxProviderBytes = 64 << 20;
/** Largest GeoIP/ASN database. */
export const maxDatabaseBytes = 256 << 20;
/** Largest small state or key file (select-group cache, leases, `file:` keys). */
export const maxStateBytes = 4 << 20;

const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function refuse(path: string, mode: { isFile(): boolean; size: number }, limit: number): void {
  if (!mode.isFile()) throw new Error(`${path} is not a regular file`);
  if (mode.size > limit) throw new Error(`${path} is larger than ${limit >> 20} MiB`);
}

/** The pieces of one read, each at most 1 MiB, refused as soon as they pass `limit` (a file may grow while it is read). */
class Pieces {
  private readonly pieces: Buffer[] = [];
  private total = 0;

  constructor(
    private readonly path: string,
    private readonly limit: number,
  ) {}

  /** A buffer for the next read. */
  next(): Buffer {
    return Buffer.allocUnsafe(Math.min(1 << 20, this.limit + 1 - this.total) || 1);
  }

  /** Keeps `n` bytes of `piece`; false at the end of the file (n = 0). */
  add(piece: Buffer, n: number): boolean {
    if (n === 0) return false;
    this.total += n;
    if (this.total > this.limit) throw new Error(`${this.path} is larger than ${this.limit >> 20} MiB`);
    this.pieces.push(piece.subarray(0, n));
    return true;
  }

  /** Everything read. */
  whole(): Buffer {
    return Buffer.concat(this.pieces, this.total);
  }
}

/** Reads a whole regular file of at most `limit` bytes; throws naming the path otherwise. */
export function readRegularFileSync(path: string, limit: number): Buffer {
  const fd = openSync(path, flags);
  try {
    refuse(path, fstatSync(fd), limit);
    const pieces = new Pieces(path, limit);
    for (let piece = pieces.next(); pieces.add(piece, readSync(fd, piece, 0, piece.length, null)); piece = pieces.next());
    return pieces.whole();
  } finally {
    closeSync(fd);
  }
}

/** Like readRegularFileSync, without blocking the event loop. */
export async function readRegularFile(path: string, limit: number): Promise<Buffer> {
  const handle = await open(path, flags);
  try {
    refuse(path, await handle.stat(), limit);
    const pieces = new Pieces(path, limit);
    for (let piece = pieces.next(); pieces.add(piece, (await handle.read(piece, 0, piece.length, null)).bytesRead); piece = pieces.next());
    return pieces.whole();
  } finally {
    await handle.close();
  }
}

/**
 * The real path of `path` with every symlink resolved; for a path that does not exist yet
 * (a download cache), its nearest existing ancestor is resolved and the rest appended.
 */
function realPathOf(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(realPathOf(parent), basename(absolute));
  }
}

/** True when `path`, symlinks resolved, is `dir` or inside it (symlinks in `dir` resolved too). */
export function isInside(dir: string, path: string): boolean {
  const inside = relative(realPathOf(dir), realPathOf(path));
  return inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside);
}
