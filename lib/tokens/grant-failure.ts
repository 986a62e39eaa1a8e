import type { Clock } from '../runtime/clock';
import { failureEvents, type EventSink } from '../events';
import { ConflictReason, InstanceStatus, StoreUnavailableError, TokenConflictError, type InstanceKey, type InstanceRecord, type TokenStore } from '../store';
import { WixOAuthError } from '../wix';
import { appFailureRetryAt, failurePlan } from './refresh-policy';

/** What the lease holder needs to write down a failed grant. */
export interface GrantFailureDeps {
  store: Pick<TokenStore, 'recordFailure' | 'releaseLease' | 'rescheduleLeased'>;
  now: Clock['now'];
  random: () => number;
  /** Lifecycle events (InstanceNeedsReauth, TokenRefreshFailing); none by default. */
  events?: EventSink;
}

/** How the failure ended up in the store. */
export type GrantFailureWrite =
  /** lastError, backoff or needs_reauth written; the lease is released. */
  | 'recorded'
  /**
   * Not about this instance (the app's credentials or request refused): the lease is released,
   * and a due time is moved back by the app backoff, so a broken app does not stay at the head of
   * the due index; tokens, status and version untouched.
   */
  | 'released'
  /** The record moved on under the holder: nothing written, the lease released if still ours. */
  | 'conflict'
  /** The instance was uninstalled under the holder: nothing written; nothing may be served. */
  | 'uninstalled';

/**
 * Writes down a failed grant under the lease, by {@link failurePlan}, and frees the lease.
 * Anything that is not a {@link WixOAuthError} (secrets unreadable, say) only frees it.
 *
 * @param options.needsReauth mark needs_reauth whatever the plan says (a legacy refresh token
 *   was refused before this failure)
 * @throws {StoreUnavailableError} the store could not be written; the lease then simply expires
 */
export async function recordGrantFailure(
  deps: GrantFailureDeps,
  key: InstanceKey,
  record: InstanceRecord,
  owner: string,
  error: unknown,
  options: { needsReauth?: boolean } = {},
): Promise<GrantFailureWrite> {
  const now = deps.now();
  const plan = error instanceof WixOAuthError ? failurePlan(error.kind, (record.lastError?.count ?? 0) + 1, now, deps.random) : undefined;
  try {
    if (plan === undefined || !plan.record) {
      if (record.refreshDueAt === undefined || !(error instanceof WixOAuthError)) await deps.store.releaseLease(key, owner);
      // Later only: a health pass due tomorrow must not be pulled forward by the app's failure.
      else await deps.store.rescheduleLeased(key, { owner, expectedVersion: record.version, refreshDueAt: Math.max(record.refreshDueAt, appFailureRetryAt(now, deps.random)) });
      return 'released';
    }
    const code = (error as WixOAuthError).code;
    const after = await deps.store.recordFailure(key, {
      owner,
      expectedVersion: record.version,
      error: { kind: (error as WixOAuthError).kind, code },
      at: now,
      retryAt: plan.retryAt,
      needsReauth: plan.needsReauth || options.needsReauth === true,
    });
    if (deps.events !== undefined) await deps.events.emit(failureEvents(record, after, now, deps.events.failingAfter, code));
    return 'recorded';
  } catch (storeError) {
    if (!(storeError instanceof TokenConflictError)) throw storeError;
    // An AppInstalled, a reinstall or a taker-over moved the record: a lease still ours must not
    // outlive this call (waiters would find no token and a held lease until it expires).
    await releaseLeaseQuietly(deps.store, key, owner);
    const uninstalled = storeError.reason === ConflictReason.Uninstalled || storeError.current?.status === InstanceStatus.Uninstalled;
    return uninstalled ? 'uninstalled' : 'conflict';
  }
}

/**
 * Gives a lease back on a failure path. A store outage is ignored (the lease expires on its own);
 * anything else is rethrown.
 *
 * @returns false when the lease was not released (not ours any more, or the store unavailable)
 */
export async function releaseLeaseQuietly(store: Pick<TokenStore, 'releaseLease'>, key: InstanceKey, owner: string): Promise<boolean> {
  try {
    return await store.releaseLease(key, owner);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    return false;
  }
}
