import { DEFAULT_DUE_SHARDS, DEFAULT_LEASE_TTL_MS, StoreUnavailableError, type DueItem } from '../store';
import { appFailureRetryAt } from './refresh-policy';
import { refreshOne, type RefreshDeps } from './refresh';
import { countOutcome, emptySummary, FailureClass, SkipReason, type RefreshSummary } from './refresh-summary';

export interface SweepOptions {
  /** Stop taking new instances this long after the start; in-flight ones finish (see `deadline`). */
  budgetMs: number;
  /** Wix calls in flight at most. */
  concurrency: number;
  /** Epoch ms: no Wix call runs past it. Default: the budget's end plus one lease length. */
  deadline?: number;
  /** Items due at or before this epoch ms are swept. Default: the start. */
  now?: number;
  /** Due-index keys per page. Default 4 × concurrency, at least 25. */
  pageSize?: number;
  /** The shard the walk starts from. Default: random, so no shard is always served last. */
  startShard?: number;
}

/**
 * Failures that say nothing about the instance: the rest of the app's instances are skipped this
 * run. They are the ones failurePlan leaves unrecorded (credentials_rejected, bad_request) or that
 * never reached Wix (secrets): with no backoff written, each of the app's instances would otherwise
 * cost a Wix call on every run.
 */
const APP_LEVEL: ReadonlySet<FailureClass> = new Set([FailureClass.CredentialsRejected, FailureClass.BadRequest, FailureClass.Secrets]);

/**
 * The refresh-ahead sweep: reads what is due from the due index (every shard, a page at a time,
 * only as far as the budget reaches) and refreshes each instance with {@link refreshOne}, at most
 * `concurrency` at once.
 *
 * ```
 * queryDue page ──▶ queue ──▶ workers (concurrency) ──▶ refreshOne ──▶ counts
 *      ▲ refilled while the queue runs low      │ budget spent: stop taking; the rest stays due
 * ```
 *
 * Stopping is always safe: nothing is taken off the index before it is refreshed, so what this
 * run leaves (`leftForNextRun`, or never read when `complete` is false) is the next run's, and a
 * crash leaves leases that expire. An app-level failure (its credentials refused, a request Wix
 * never accepts, its secret unreadable) skips the app's remaining instances for this run instead
 * of calling Wix for each, and moves the due time of each it meets back by the app backoff
 * (refresh-policy appFailureRetryAt), so a broken app cannot starve healthy ones run after run.
 *
 * @throws whatever unexpected error a refresh threw, after the in-flight ones have finished
 */
export async function sweep(deps: RefreshDeps, options: SweepOptions): Promise<RefreshSummary> {
  const startedAt = deps.now();
  const dueBy = options.now ?? startedAt;
  const stopAt = startedAt + options.budgetMs;
  const deadline = options.deadline ?? stopAt + DEFAULT_LEASE_TTL_MS;
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const limit = options.pageSize ?? Math.max(25, 4 * concurrency);
  const startShard = options.startShard ?? Math.floor(deps.random() * DEFAULT_DUE_SHARDS);
  const summary = emptySummary('sweep');
  const appsDown = new Map<string, FailureClass>();
  const queue: DueItem[] = [];
  let cursor: string | undefined;
  let exhausted = false;
  let indexUnavailable = false;
  let reading: Promise<void> | undefined;
  let fatal: { error: unknown } | undefined;

  /** Reads the next page, once at a time; a throttled index read ends the walk for this run. */
  const readPage = (): Promise<void> =>
    (reading ??= (async () => {
      try {
        const page = await deps.store.queryDue({
          now: dueBy,
          limit,
          ...(cursor === undefined ? { startShard } : { cursor }),
        });
        queue.push(...page.items);
        summary.examined += page.items.length;
        cursor = page.cursor;
        exhausted = cursor === undefined;
      } catch (error) {
        exhausted = true;
        if (error instanceof StoreUnavailableError) indexUnavailable = true;
        else fatal ??= { error };
      } finally {
        reading = undefined;
      }
    })());

  let outOfTime = false;
  /** Items put back once after a lease too short to use. */
  const requeued = new Set<DueItem>();
  const timeLeft = () => fatal === undefined && !outOfTime && deps.now() < stopAt;

  async function next(): Promise<DueItem | undefined> {
    while (queue.length === 0 && !exhausted && timeLeft()) await readPage();
    // Read ahead while the workers still have work, so they never wait on the index.
    if (queue.length <= concurrency && !exhausted && timeLeft()) void readPage();
    return queue.shift();
  }

  /**
   * Moves a failing app's instance back by the app backoff, so its items do not stay at the head
   * of every shard and use up the next runs' budgets before healthy apps are reached. Best effort:
   * a refused or failed move leaves the item where it was.
   */
  async function deferQuietly(item: DueItem): Promise<void> {
    try {
      await deps.store.deferDue({ appId: item.appId, instanceId: item.instanceId }, { seenDueAt: item.dueAt, dueAt: appFailureRetryAt(deps.now(), deps.random) });
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
    }
  }

  async function worker(): Promise<void> {
    while (timeLeft()) {
      const item = await next();
      if (item === undefined) return;
      if (!timeLeft()) {
        queue.unshift(item);
        return;
      }
      if (appsDown.has(item.appId)) {
        countOutcome(summary, { status: 'skipped', reason: SkipReason.AppUnavailable });
        await deferQuietly(item);
        continue;
      }
      try {
        const outcome = await refreshOne(deps, { appId: item.appId, instanceId: item.instanceId }, { deadline, dueBy });
        // A lease that came back nearly spent (a slow write) leaves only this instance: it goes to
        // the back of the queue once, and the sweep goes on.
        if (outcome.status === 'left' && !outcome.outOfTime && !requeued.has(item)) {
          requeued.add(item);
          queue.push(item);
          continue;
        }
        countOutcome(summary, outcome);
        // No time for this one (the hard deadline is near): none for the next either.
        if (outcome.status === 'left' && outcome.outOfTime) outOfTime = true;
        if (outcome.status === 'failed' && APP_LEVEL.has(outcome.failure)) {
          // A Wix refusal was rescheduled under the lease already (grant-failure); a secret that
          // could not be read never got that far.
          if (outcome.failure === FailureClass.Secrets) await deferQuietly(item);
          if (!appsDown.has(item.appId)) {
            appsDown.set(item.appId, outcome.failure);
            deps.logger.warn('app unavailable: its instances are due again after a backoff', { appId: item.appId, failure: outcome.failure, code: outcome.code });
          }
        }
      } catch (error) {
        fatal ??= { error };
        return;
      }
    }
  }

  await Promise.all(Array.from({ length: concurrency }, worker));
  while (reading !== undefined) await reading;
  if (fatal !== undefined) throw fatal.error;

  summary.leftForNextRun += queue.length;
  summary.complete = exhausted && !indexUnavailable && summary.leftForNextRun === 0;
  summary.durationMs = deps.now() - startedAt;
  if (indexUnavailable) deps.logger.warn('due index unavailable: the walk ends early', {});
  return summary;
}
