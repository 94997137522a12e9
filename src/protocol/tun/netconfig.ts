/**
 * Linux network configuration through iproute2, nftables and sysctl (tun.md §7.5): argument
 * arrays, never a shell. Every change made through a `NetChanges` records how to undo it, so
 * a clean shutdown removes exactly what was installed.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';

/** Runs a program, resolving with its stdout; the error names the command and its stderr. */
export function run(program: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(program, args, { timeout: 30_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      const detail = missing ? `${program} is not installed` : stderr.trim() || error.message;
      reject(new Error(`${program} ${args.join(' ')}: ${detail}`, { cause: error }));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs `ip` with the arguments. */
export function ip(...args: string[]): Promise<string> {
  return run('ip', args);
}

/** `ip` commands of one address family, one per line without the leading `ip`. */
export interface IpLines {
  /** 4 runs them as `ip -4`, 6 as `ip -6`. */
  family: 4 | 6;
  /** The commands. */
  lines: string[];
}

/** Feeds each family's commands to one `ip -4|-6 -batch -`; `force` carries on past errors (and then never rejects). */
export async function ipBatch(batches: readonly IpLines[], force = false): Promise<void> {
  for (const { family, lines } of batches) {
    if (lines.length === 0) continue;
    const done = run('ip', [`-${family}`, ...(force ? ['-force'] : []), '-batch', '-'], lines.join('\n') + '\n');
    await (force ? done.catch(() => '') : done);
  }
}

/** True when `program` can be run (it answers `--version` or `-V`). */
export async function installed(program: string, versionFlag = '--version'): Promise<boolean> {
  try {
    await run(program, [versionFlag]);
    return true;
  } catch {
    return false;
  }
}

/** Changes made to the system, each with its undo, reverted in reverse order. */
export class NetChanges {
  private readonly undo: (() => Promise<unknown>)[] = [];

  /** Runs `ip …args` and remembers `ip …undoArgs` for `revert`. */
  async ip(args: string[], undoArgs: string[]): Promise<void> {
    await ip(...args);
    this.undo.push(() => ip(...undoArgs));
  }

  /** Sets a sysctl under /proc/sys (e.g. net/ipv4/ip_forward) and remembers the old value. */
  async sysctl(key: string, value: string): Promise<void> {
    const path = `/proc/sys/${key}`;
    const old = (await readFile(path, 'utf8')).trim();
    if (old === value) return;
    await writeFile(path, value);
    this.undo.push(() => writeFile(path, old));
  }

  /** Remembers an arbitrary undo step. */
  onRevert(step: () => Promise<unknown>): void {
    this.undo.push(step);
  }

  /** Undoes everything, newest first; failures are reported, not thrown, so every step runs. */
  async revert(report: (error: Error) => void): Promise<void> {
    while (this.undo.length > 0) {
      try {
        await this.undo.pop()!();
      } catch (error) {
        report(error as Error);
      }
    }
  }
}
