/**
 * Network-namespace labs for the tunnel end-to-end tests and benchmark (root only): hosts are
 * namespaces with a random suffix joined by veth pairs, processes run in them through
 * `ip netns exec`, and `close` kills every process and deletes every namespace it made.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { terminate } from './harness.js';

/** The programs a lab needs, and whether this machine has them and the rights to use them. */
export function labUnavailable(programs: readonly string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'no /dev/net/tun';
  }
  for (const program of programs) {
    const found = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((dir) => {
      try {
        accessSync(join(dir, program), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) return `${program} is not installed`;
  }
  return undefined;
}

/** The result of a command that ran to its end. */
export interface Run {
  /** Exit code (null when killed). */
  code: number | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs a command to its end; never rejects (the code tells). */
export function exec(program: string, args: readonly string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a command and rejects, with its output, when it fails. */
export async function must(program: string, args: readonly string[]): Promise<string> {
  const result = await exec(program, args);
  if (result.code !== 0) throw new Error(`${program} ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** A long-running process inside a namespace. */
export interface LabProcess {
  /** Everything it printed so far. */
  output(): string;
  /** Resolves when its output matches (rejects after the timeout with the output). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period (default 8 s: longer than sluice's 5 s shutdown grace, so its cleanup runs). */
  stop(graceMs?: number): Promise<void>;
  /** The child process. */
  child: ChildProcess;
}

/** A set of namespaces and the processes in them. */
export class Lab {
  private readonly suffix = randomBytes(3).toString('hex');
  private readonly namespaces: string[] = [];
  private readonly processes: LabProcess[] = [];
  /** A scratch directory for configs, removed by `close`. */
  readonly dir = mkdtempSync(join(tmpdir(), 'sluice-lab-'));

  /** The real name of the lab's namespace `host`. */
  ns(host: string): string {
    return `sq-${host}-${this.suffix}`;
  }

  /** Creates namespaces with `lo` up. */
  async hosts(...names: string[]): Promise<void> {
    for (const name of names) {
      await must('ip', ['netns', 'add', this.ns(name)]);
      this.namespaces.push(this.ns(name));
      await this.ip(name, 'link', 'set', 'lo', 'up');
    }
  }

  /** Joins two hosts by a veth pair: interface names and addresses (CIDR) on each side. */
  async link(a: string, aIf: string, aAddress: string, b: string, bIf: string, bAddress: string): Promise<void> {
    const temp = `v${randomBytes(4).toString('hex')}`;
    await must('ip', ['link', 'add', temp, 'type', 'veth', 'peer', 'name', `${temp}p`]);
    await must('ip', ['link', 'set', temp, 'netns', this.ns(a), 'name', aIf]);
    await must('ip', ['link', 'set', `${temp}p`, 'netns', this.ns(b), 'name', bIf]);
    await this.ip(a, 'address', 'add', aAddress, 'dev', aIf);
    await this.ip(b, 'address', 'add', bAddress, 'dev', bIf);
    await this.ip(a, 'link', 'set', aIf, 'up');
    await this.ip(b, 'link', 'set', bIf, 'up');
  }

  /** `ip` inside a host; rejects on failure. */
  ip(host: string, ...args: string[]): Promise<string> {
    return must('ip', ['-n', this.ns(host), ...args]);
  }

  /** Runs a command inside a host to its end. */
  run(host: string, program: string, args: readonly string[], timeoutMs?: number): Promise<Run> {
    return exec('ip', ['netns', 'exec', this.ns(host), program, ...args], timeoutMs);
  }

  /** Writes a file into the lab's directory and returns its path. */
  file(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** Starts a long-running command inside a host. */
  start(host: string, program: string, args: readonly string[]): LabProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), program, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const listeners = new Set<() => void>();
    const append = (chunk: Buffer): void => {
      text += chunk.toString();
      for (const listener of listeners) listener();
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    const proc: LabProcess = {
      child,
      output: () => text,
      waitFor: (pattern, timeoutMs = 20_000) =>
        new Promise((resolve, reject) => {
          const check = (): void => {
            if (!pattern.test(text)) return;
            done();
            resolve();
          };
          const done = (): void => {
            clearTimeout(timer);
            listeners.delete(check);
            child.off('exit', exited);
          };
          const exited = (): void => {
            done();
            reject(new Error(`${program} exited before printing ${pattern}:\n${text}`));
          };
          const timer = setTimeout(() => {
            done();
            reject(new Error(`${program} did not print ${pattern} within ${timeoutMs} ms:\n${text}`));
          }, timeoutMs);
          listeners.add(check);
          child.once('exit', exited);
          check();
        }),
      stop: (graceMs = 8000) => terminate(child, graceMs),
    };
    this.processes.push(proc);
    return proc;
  }

  /** Stops every process (SIGTERM, then SIGKILL) and deletes every namespace and the directory. */
  async close(): Promise<void> {
    await Promise.all(this.processes.map((proc) => proc.stop(3000)));
    for (const name of this.namespaces) await exec('ip', ['netns', 'del', name]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
