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

/** Reads a whole regular file of at most `limit` bytes; throws naming the path otherwise. */
export function readRegularFileSync(path: string, limit: number): Buffer {
  const fd = openSync(path, flags);
  try {
    refuse(path, fstatSync(fd), limit);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total) || 1);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > limit) throw new Error(`${path} is larger than ${limit >> 20} MiB`);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** Like readRegularFileSync, without blocking the event loop. */
export async function readRegularFile(path: string, limit: number): Promise<Buffer> {
  const handle = await open(path, flags);
  try {
    refuse(path, await handle.stat(), limit);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total) || 1);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > limit) throw new Error(`${path} is larger than ${limit >> 20} MiB`);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/**
 * The real path of `path` with every symlink resolved; for a path that does not exist yet
 * (a download cache), its nearest existing ancestor is resolved and the rest appended.
 */
export function realPathOf(path: string): string {
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
