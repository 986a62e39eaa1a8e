import { StoreUnavailableError } from '../../../../lib/store';
import { retryWhileUnavailable } from '../../../../lib/tokens/retry';
import { createFakeClock } from '../../../support/fake-clock';

const unavailable = () => new StoreUnavailableError('ThrottlingException', 'op', undefined);

/** A store call that is unavailable `failures` times, then answers `done`; it remembers the time each attempt was given. */
function flaky(failures: number) {
  const given: number[] = [];
  return {
    given,
    run: async (attempt: { timeoutMs: number }) => {
      given.push(attempt.timeoutMs);
      if (given.length <= failures) throw unavailable();
      return 'done';
    },
  };
}

describe('retryWhileUnavailable', () => {
  it('waits 25, 50, 100, 200, then 400 ms between attempts, giving each what is left of the deadline', async () => {
    const clock = createFakeClock(0);
    const call = flaky(6);
    const retries: Array<[number, number]> = [];

    const result = await retryWhileUnavailable(clock, call.run, { deadline: 10_000, onRetry: (attempt, delayMs) => retries.push([attempt, delayMs]) });

    expect(result).toBe('done');
    expect(clock.sleeps).toEqual([25, 50, 100, 200, 400, 400]);
    expect(retries).toEqual([
      [1, 25],
      [2, 50],
      [3, 100],
      [4, 200],
      [5, 400],
      [6, 400],
    ]);
    expect(call.given).toEqual([10_000, 9_975, 9_925, 9_825, 9_625, 9_225, 8_825]);
  });

  it('rethrows the last unavailable answer once a wait and a 20 ms attempt no longer fit before the deadline', async () => {
    const clock = createFakeClock(0);
    const call = flaky(Number.POSITIVE_INFINITY);

    // 25 + 50 + 100 = 175 ms of waits fit in 250 ms with 20 ms left for an attempt each time; 200 more does not.
    await expect(retryWhileUnavailable(clock, call.run, { deadline: 250 })).rejects.toBeInstanceOf(StoreUnavailableError);

    expect(clock.sleeps).toEqual([25, 50, 100]);
    expect(call.given).toHaveLength(4);
  });

  it('gives a late attempt at least 20 ms, and makes none once the deadline leaves no room for a wait', async () => {
    const clock = createFakeClock(1_000);
    const call = flaky(1);

    await expect(retryWhileUnavailable(clock, call.run, { deadline: 1_030 })).rejects.toBeInstanceOf(StoreUnavailableError);

    expect(call.given).toEqual([30]);
    expect(clock.sleeps).toEqual([]);

    const past = flaky(0);
    await expect(retryWhileUnavailable(clock, past.run, { deadline: 0 })).resolves.toBe('done');
    expect(past.given).toEqual([20]);
  });

  it('rethrows anything but an unavailable store at once, without waiting', async () => {
    const clock = createFakeClock(0);
    const refused = new Error('conflict');
    let attempts = 0;

    await expect(
      retryWhileUnavailable(
        clock,
        async () => {
          attempts += 1;
          throw refused;
        },
        { deadline: 10_000 },
      ),
    ).rejects.toBe(refused);

    expect(attempts).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });
});
