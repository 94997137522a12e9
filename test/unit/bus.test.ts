import { Subject } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventBus, type TrafficSample } from '../../src/common/bus.js';

describe('EventBus traffic', () => {
  afterEach(() => void vi.useRealTimers());

  it('samples once a second for all subscribers together, and stops reading totals when the last one leaves', () => {
    vi.useFakeTimers();
    const totals = { up: 0, down: 0 };
    const read = vi.fn(() => ({ ...totals }));
    const bus = new EventBus(new Subject(), read);
    expect(read).not.toHaveBeenCalled();
    const first: TrafficSample[] = [];
    const second: TrafficSample[] = [];
    const a = bus.traffic.subscribe((sample) => first.push(sample));
    totals.up = 100;
    totals.down = 7;
    vi.advanceTimersByTime(1000);
    const b = bus.traffic.subscribe((sample) => second.push(sample));
    totals.up = 150;
    vi.advanceTimersByTime(1000);
    expect(first).toEqual([
      { up: 100, down: 7, upTotal: 100, downTotal: 7 },
      { up: 50, down: 0, upTotal: 150, downTotal: 7 },
    ]);
    expect(second).toEqual([first[1]]);
    expect(read).toHaveBeenCalledTimes(3); // the start, then one read per second, shared
    a.unsubscribe();
    b.unsubscribe();
    vi.advanceTimersByTime(5000);
    expect(read).toHaveBeenCalledTimes(3);
  });
});
