import type { Clock } from '../../lib/runtime/clock';

/** A clock whose sleeps return at once and move time forward; it remembers every sleep. */
export interface FakeClock extends Clock {
  readonly sleeps: number[];
  advance(ms: number): void;
  set(epochMs: number): void;
}

export function createFakeClock(start = Date.UTC(2026, 10, 25, 12, 0, 0)): FakeClock {
  let current = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => current,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
      current += ms;
    },
    advance: (ms) => {
      current += ms;
    },
    set: (epochMs) => {
      current = epochMs;
    },
  };
}
