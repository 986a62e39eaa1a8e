import { attachHidden, Dependency, ErrorCategory, ServiceError } from '../errors';
import type { InstanceKey, InstanceRecord } from './instance';

/** Why a conditional token write was refused. */
export const ConflictReason = {
  /** Someone wrote a newer version since the writer read it. */
  Version: 'version',
  /** The writer's lease expired or was taken over. */
  LeaseLost: 'lease_lost',
  /** There is no record any more. */
  NotFound: 'not_found',
  /** The instance was uninstalled (a tombstone) since the writer read it. */
  Uninstalled: 'uninstalled',
} as const;
export type ConflictReason = (typeof ConflictReason)[keyof typeof ConflictReason];

/** What every store error shares: it comes from the store and, unless it says otherwise, a retry may help. */
abstract class StoreError extends ServiceError {
  override readonly category: ErrorCategory = ErrorCategory.Unavailable;
  override readonly dependency = Dependency.Store;
}

/** A store error about one instance: names it by `appId` and `instanceId`. */
abstract class InstanceStoreError extends StoreError {
  readonly appId: string;
  readonly instanceId: string;

  constructor(code: string, key: InstanceKey, message: string) {
    super(code, message);
    this.appId = key.appId;
    this.instanceId = key.instanceId;
  }
}

/**
 * A conditional write lost (code `TOKEN_CONFLICT`): the record moved on under the writer.
 * A lost race: for a caller, try again (`unavailable`).
 *
 * `current` is the record as it was when the write was refused (read from the failed write
 * itself, no second read). It holds plaintext tokens, so it is not enumerable and never reaches
 * a log through the error.
 */
export class TokenConflictError extends InstanceStoreError {
  readonly reason: ConflictReason;
  /** Not enumerable: see the class comment. */
  declare readonly current: InstanceRecord | undefined;

  constructor(key: InstanceKey, reason: ConflictReason, current: InstanceRecord | undefined) {
    super('TOKEN_CONFLICT', key, `Token write for instance ${key.instanceId} refused: ${reason}`);
    this.reason = reason;
    attachHidden(this, 'current', current);
  }
}

/**
 * A lifecycle write older than what the record already reflects (code `STALE_EVENT`); today only
 * the install callback's store throws it: `reason` says whether an uninstall at or after the
 * callback exists (`uninstalled`) or the tokens of a newer install are stored (`superseded`).
 */
export class StaleEventError extends InstanceStoreError {
  override readonly category = ErrorCategory.Conflict;
  readonly eventAt: number;
  readonly lastEventAt: number | undefined;
  readonly reason: 'uninstalled' | 'superseded';

  constructor(key: InstanceKey, eventAt: number, lastEventAt: number | undefined, reason: 'uninstalled' | 'superseded' = 'uninstalled') {
    super(
      'STALE_EVENT',
      key,
      reason === 'uninstalled'
        ? `Instance ${key.instanceId} was uninstalled at or after this event; write refused`
        : `Instance ${key.instanceId} holds the tokens of a newer install; write refused`,
    );
    this.eventAt = eventAt;
    this.lastEventAt = lastEventAt;
    this.reason = reason;
  }
}

/** The lease holder neither wrote nor let go within the wait bound (code `LEASE_WAIT_TIMEOUT`). */
export class LeaseWaitTimeoutError extends InstanceStoreError {
  readonly waitedMs: number;

  constructor(key: InstanceKey, waitedMs: number) {
    super('LEASE_WAIT_TIMEOUT', key, `Gave up waiting ${waitedMs} ms for the lease on instance ${key.instanceId}`);
    this.waitedMs = waitedMs;
  }
}

/**
 * DynamoDB throttled or failed after the SDK's own retries (code `STORE_UNAVAILABLE`); transient,
 * try again later. `cause` is the SDK error.
 */
export class StoreUnavailableError extends StoreError {
  /** The DynamoDB error name, e.g. `ThrottlingException`. */
  readonly awsErrorName: string;

  constructor(awsErrorName: string, operation: string, cause: unknown) {
    super('STORE_UNAVAILABLE', `Token store unavailable during ${operation}: ${awsErrorName}`, { cause });
    this.awsErrorName = awsErrorName;
  }
}
