import { systemClock, type Clock } from '../runtime/clock';
import { StoreUnavailableError } from '../store';

/** What {@link retryWhileUnavailable} needs: a clock, and a way to wait on it ({@link systemClock}'s by default). */
type RetryClock = Pick<Clock, 'now'> & Partial<Pick<Clock, 'sleep'>>;

export interface RetryOptions {
  /** Epoch ms: no attempt starts after it, and each attempt is given only what is left of it. */
  deadline: number;
  /** Called before each wait, to log it. */
  onRetry?: (attempt: number, delayMs: number, error: StoreUnavailableError) => void;
}

/** The wait after the first unavailable answer; each wait after it is twice the one before... */
const FIRST_WAIT_MS = 25;
/** ...up to this long. */
const LONGEST_WAIT_MS = 400;
/** An attempt with less than this left cannot get an answer from DynamoDB: don't start it. */
const MIN_ATTEMPT_MS = 20;

/**
 * The one retry-until-deadline loop of the use cases (install's state consume and token store,
 * mint's token write, refresh's rotated-token write). Runs a store call again while the store is
 * unavailable (throttled, timed out, its answer lost), with jitter-free exponential waits (25, 50,
 * 100, 200, then 400 ms), until `deadline`. Each attempt gets `{ timeoutMs }` (what is
 * left) to pass on to the store, so a hung call cannot outlive the time kept for it. Only for calls that are
 * safe to repeat: the store's writes recognise their own earlier attempt (./../store/transitions).
 *
 * @throws the last StoreUnavailableError once the deadline leaves no room; anything else at once
 */
export async function retryWhileUnavailable<T>(clock: RetryClock, run: (attempt: { timeoutMs: number }) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = clock.sleep ?? systemClock.sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run({ timeoutMs: Math.max(MIN_ATTEMPT_MS, options.deadline - clock.now()) });
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      const delayMs = Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** (attempt - 1));
      if (clock.now() + delayMs + MIN_ATTEMPT_MS >= options.deadline) throw error;
      options.onRetry?.(attempt, delayMs, error);
      await sleep(delayMs);
    }
  }
}
