import { elapsed, StatusLine } from '../src/common/status-line.js';

const status = new StatusLine();

/** Prints one figure line on standard output (above the status line on a terminal). */
export function report(line: string): void {
  status.print(`${line}\n`, 1);
}

/** Says which benchmark runs now: a live status line on a terminal, a plain line on standard error otherwise. */
export function measuring(label: string, index: number, total: number): void {
  const started = performance.now();
  status.plain(`bench ${index}/${total}: ${label}`);
  status.show(() => `bench ${index}/${total}: ${label}, ${elapsed(started)}`);
}

/** Takes the status line away at the end. */
export function finished(): void {
  status.clear();
}
