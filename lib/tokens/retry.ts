import { systemClock, type Clock } from '../runtime/clock';
import { StoreUnavailableError } from '../store';

/** What {@link retryWhileUnavailable} needs: a clock, and a way to wait on it ({@link systemClock}'s by default). */
type RetryClock = Pick<Clock, 'now'> & Partial<Pick<Clock, 'sleep'>>;

export interface RetryOptions {
  /** Epoch ms: no attempt starts after it, and each attempt is given only what is left of it. */
  deadline: number;
  /** Called before each wait, to log it. */
  onRetry?: (attempt: number, delayMs: number, error: StoreUnavailableError) => void;
  baseMs?: number;
  maxMs?: number;
}

const DEFAULT_BASE_MS = 25;
const DEFAULT_MAX_MS = 400;
/** An attempt with less than this left cannot get an answer from DynamoDB: don't start it. */
const MIN_ATTEMPT_MS = 20;

/**
 * Runs a store call again while the store is unavailable (throttled, timed out, its answer lost),
 * with jitter-free exponential waits, until `deadline`. Each attempt gets `{ timeoutMs }` (what is
 * left) to pass on to the store, so a hung call cannot outlive the time kept for it. Only for calls that are
 * safe to repeat: the store's writes recognise their own earlier attempt (./../store/transitions).
 *
 * @throws the last StoreUnavailableError once the deadline leaves no room; anything else at once
 */
export async function retryWhileUnavailable<T>(clock: RetryClock, run: (attempt: { timeoutMs: number }) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = clock.sleep ?? systemClock.sleep;
  const base = options.baseMs ?? DEFAULT_BASE_MS;
  const max = options.maxMs ?? DEFAULT_MAX_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run({ timeoutMs: Math.max(MIN_ATTEMPT_MS, options.deadline - clock.now()) });
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      const delayMs = Math.min(max, base * 2 ** (attempt - 1));
      if (clock.now() + delayMs + MIN_ATTEMPT_MS >= options.deadline) throw error;
      options.onRetry?.(attempt, delayMs, error);
      await sleep(delayMs);
    }
  }
}
