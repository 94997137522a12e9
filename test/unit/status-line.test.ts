import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { elapsed, StatusLine } from '../../src/common/status-line.js';

/** Runs `use` with a StatusLine drawing into a file, and returns what was written. */
function captured(live: boolean, use: (status: StatusLine) => void): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-status-')), 'out');
  const fd = openSync(file, 'w');
  use(new StatusLine(fd, live));
  closeSync(fd);
  return readFileSync(file, 'utf8');
}

describe('StatusLine', () => {
  it('on a terminal keeps the status below printed lines and erases it at the end', () => {
    let done = 0;
    const text = captured(true, (status) => {
      status.show(() => `downloading ${done}/2`);
      status.print('first line\n');
      done = 1;
      status.print('second line\n');
      status.plain('not shown on a terminal');
      status.clear();
    });
    expect(text).toBe('\r\x1b[2Kdownloading 0/2\r\x1b[2Kfirst line\n\r\x1b[2Kdownloading 0/2\r\x1b[2Ksecond line\n\r\x1b[2Kdownloading 1/2\r\x1b[2K');
  });

  it('off a terminal draws nothing, prints plain lines and printed lines as they are', () => {
    const text = captured(false, (status) => {
      status.show(() => 'never drawn');
      status.plain('bench 1/2: rules');
      status.print('figure\n');
      status.clear();
    });
    expect(text).toBe('bench 1/2: rules\nfigure\n');
  });

  it('formats elapsed time', () => {
    expect(elapsed(performance.now() - 12_400)).toBe('12 s');
    expect(elapsed(performance.now() - 185_000)).toBe('3 min 05 s');
  });
});
