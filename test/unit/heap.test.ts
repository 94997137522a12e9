import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/common/addon.js';
import { retainFreedMemory } from '../../src/common/heap.js';

const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !== undefined;

describe('heap setting (native/heap.c)', () => {
  it('applies on glibc and reports false elsewhere', () => {
    expect(retainFreedMemory()).toBe(glibc);
  });

  it('refuses a byte count that is not a non-negative 32-bit number with a TypeError', () => {
    const addon = loadAddon<{ retainFreedMemory(bytes: unknown): boolean }>('heap');
    for (const bad of [-1, 2 ** 31, 'a lot', undefined]) expect(() => addon.retainFreedMemory(bad)).toThrow(TypeError);
  });
});
