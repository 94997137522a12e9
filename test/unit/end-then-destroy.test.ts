import { Duplex, PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { endThenDestroy } from '../../src/common/end-then-destroy.js';

describe('endThenDestroy', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  it('a stream that closes after its end leaves no timer behind (the timer would hold it for the grace period)', async () => {
    const stream = new PassThrough();
    const written: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => written.push(chunk));
    endThenDestroy(stream, 5000, 'bye');
    expect(vi.getTimerCount()).toBe(1);
    await new Promise((resolve) => stream.once('close', resolve));
    expect(vi.getTimerCount()).toBe(0);
    expect(Buffer.concat(written).toString()).toBe('bye');
  });

  it('a peer that never closes is destroyed after the grace period', () => {
    const stream = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
    endThenDestroy(stream, 2000);
    vi.advanceTimersByTime(1999);
    expect(stream.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(stream.destroyed).toBe(true);
  });

  it('an already destroyed stream starts no timer', () => {
    const stream = new PassThrough();
    stream.destroy();
    endThenDestroy(stream, 2000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
