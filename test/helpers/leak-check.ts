// Fails a test file that leaves sockets, servers, UDP sockets or child processes open.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect } from 'vitest';

const watched = new Set(['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap', 'ProcessWrap', 'PipeServerWrap']);

function handles(): string[] {
  return process.getActiveResourcesInfo().filter((kind) => watched.has(kind));
}

let baseline: string[] = [];

beforeAll(() => {
  baseline = handles();
});

afterAll(async () => {
  const deadline = Date.now() + 5000;
  while (handles().length > baseline.length && Date.now() < deadline) await sleep(50);
  expect(handles(), 'handles left open by this test file').toEqual(baseline);
});
