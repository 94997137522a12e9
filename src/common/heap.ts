/**
 * Two process-wide memory settings for relaying, applied by `sluice run`.
 *
 * Keeping freed buffer memory for reuse (native/heap.c): relaying allocates a 32–64 KiB buffer
 * per socket read and per sealed chunk outside V8's heap, V8 frees them in batches of tens of
 * MiB, and with glibc's default every batch went back to the kernel only to be faulted back in,
 * page by page, a moment later.
 *
 * Pacing V8's full collections: see `paceFullCollections`.
 */
import { setFlagsFromString } from 'node:v8';
import { loadAddon } from './addon.js';

/** native/heap.c. */
interface HeapAddon {
  /** Sets how many freed bytes at the top of the heap malloc keeps before returning them (glibc); false when not glibc. */
  retainFreedMemory(bytes: number): boolean;
}

/** V8 collects buffers once about 64 MiB of them are outstanding: one collection's batch stays for reuse (measured: no faults left). */
export const retainedFreedBytes = 64 * 1024 * 1024;

/** Applies `retainedFreedBytes`; false when the C library is not glibc (nothing changes then). */
export function retainFreedMemory(): boolean {
  return loadAddon<HeapAddon>('heap').retainFreedMemory(retainedFreedBytes);
}

/** Percent of the old generation's growth budget used when V8 starts concurrent marking, then when it marks at once. */
const markingTriggers = { soft: 80, hard: 90 } as const;

/**
 * Keeps V8's full collections for when the old generation has really grown. Two settings:
 *
 * - Incremental marking starts once `markingTriggers.soft` percent of the old generation's
 *   growth budget (limit minus the size after the last full collection) is used. V8's own rule
 *   starts it whenever less than the young generation's capacity is left below the limit; a
 *   relay's old generation is small (about 16 MiB) while its young generation grows to the
 *   maximum, so after a few collections the limit sat that close.
 * - Buffers freed by a scavenge are swept before it returns, not by a background task. V8
 *   counts buffer memory into that budget until the sweep has run, and a relay allocates
 *   about 32 MiB of buffers between two scavenges: on a busy machine the background sweep
 *   lagged, every scavenge appeared to use the whole budget, and marking started at once.
 *
 * Without them a relay fell into a mark-compact every 20–40 ms for as long as traffic flowed
 * (measured on the VMess chain, per GB: 13–36 in most runs with neither; with only the first,
 * 0–1 on an idle machine but 12–41 in one of the two processes in most runs while two other
 * processes kept both cores busy; with both, 1 per process in every run, busy or not).
 * V8 reads these flags at each check, so setting them at run time takes effect.
 */
export function paceFullCollections(): void {
  setFlagsFromString(`--incremental-marking-soft-trigger=${markingTriggers.soft}`);
  setFlagsFromString(`--incremental-marking-hard-trigger=${markingTriggers.hard}`);
  setFlagsFromString('--no-concurrent-array-buffer-sweeping');
}
