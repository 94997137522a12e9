import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchedStderr, Logger } from '../../src/common/log.js';

describe('BatchedStderr', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('writes the lines of 50 ms in one batch, in order, and 64 KiB of backlog at once', () => {
    const writes: string[] = [];
    const logger = new Logger('info', 'text', new BatchedStderr(undefined, (text) => writes.push(text)));
    for (let i = 0; i < 100; i++) logger.info(`flow ${i}`);
    vi.advanceTimersByTime(49);
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.trimEnd().split('\n').map((line) => /flow (\d+)$/.exec(line)?.[1])).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));

    // Without any time passing, the write comes once 64 KiB are pending.
    const line = 'x'.repeat(1000);
    let logged = 0;
    while (writes.length === 1 && logged < 100) {
      logger.info(line);
      logged++;
    }
    expect(writes).toHaveLength(2);
    expect(writes[1]!.length).toBeGreaterThanOrEqual(64 * 1024);
    expect(writes[1]!.length).toBeLessThan(64 * 1024 + 1100);
  });

  it('a failing write loses that batch only, never throws into the caller', () => {
    let fail = true;
    const writes: string[] = [];
    const sink = new BatchedStderr(undefined, (text) => {
      if (fail) throw new Error('EPIPE');
      writes.push(text);
    });
    sink.write('lost\n');
    expect(() => vi.advanceTimersByTime(50)).not.toThrow();
    fail = false;
    sink.write('kept\n');
    vi.advanceTimersByTime(50);
    expect(writes).toEqual(['kept\n']);
  });
});
