/**
 * Keeps freed buffer memory for reuse (native/heap.c): relaying allocates a 32–64 KiB buffer
 * per socket read and per sealed chunk outside V8's heap, V8 frees them in batches of tens of
 * MiB, and with glibc's default every batch went back to the kernel only to be faulted back in,
 * page by page, a moment later.
 */
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
