/**
 * The store's port: {@link TokenStore} and {@link InstallStateStore}, and the lifecycle events they
 * apply. What an instance is lives in ./instance, what the calls take and give in ./operations;
 * both are re-exported here.
 */
import type { TokenCipher } from '../crypto';
import type { InstanceKey, InstanceRecord, InstanceDescription, InstanceStatus, InstanceStatusView } from './instance';
import type {
  AcquireLeaseOptions,
  DuePage,
  FailureOutcome,
  ImportOutcome,
  ImportTokens,
  InstallTokens,
  KeyIdPage,
  LeasedReschedule,
  LeasedTokenWrite,
  LeaseResult,
  QueryDueOptions,
  RewrapOutcome,
  RotatedTokenWrite,
  StatusPage,
  WaitForReleaseOptions,
  WriteOptions,
} from './operations';

export type { TokenCipher };
export * from './instance';
export * from './operations';

export interface AppInstalledEvent {
  /** The event's time (Wix's clock), epoch ms. */
  eventAt: number;
  originInstanceId?: string;
}

export interface AppRemovedEvent {
  eventAt: number;
}

/**
 * An instance record without its tokens: what a lifecycle write answers. Built from the stored
 * item without the app's cipher, so recording a webhook never decrypts a token (and needs no key
 * ring). `holdsTokens` says whether the item has token envelopes, without opening them.
 */
export type InstanceState = Omit<InstanceRecord, 'refreshToken' | 'accessToken'> & { holdsTokens: boolean };

/**
 * What a lifecycle webhook did. Webhooks are duplicated and reordered, so `duplicate` and
 * `stale` are normal answers (reply 200), not errors.
 */
export interface LifecycleResult {
  outcome: 'applied' | 'duplicate' | 'stale';
  /** The record as the write left it (or as it stood, when refused), tokens left sealed and out. */
  record: InstanceState;
}

/**
 * The token store the use cases depend on.
 *
 * Lifecycle ordering: every lifecycle write carries an event time and the record keeps the newest
 * applied one (`lastEventAt`). AppInstalled applies only when newer; AppRemoved applies when newer
 * or equal (a removal wins a tie: at Wix an install precedes its removal). The install callback's
 * token store is refused only by a tombstone at or after its own time (the callback's arrival on
 * our clock, compared with Wix's event times: a skew of seconds only matters for an uninstall made
 * within seconds of the consent), and it never loses to an AppInstalled.
 *
 * Every method may throw `StoreUnavailableError` (transient: DynamoDB throttled or failed after the
 * SDK's retries) and lib/crypto's `DecryptionError`; any other error is rethrown unchanged.
 */
export interface TokenStore {
  /** Reads one record; `consistentRead` for decisions made right after a write. */
  getInstance(key: InstanceKey, options?: { consistentRead?: boolean }): Promise<InstanceRecord | undefined>;

  /** A strongly consistent read of the status projection (no token, nothing to decrypt). */
  getStatus(key: InstanceKey): Promise<InstanceStatusView | undefined>;

  /** What an operator may see of one record: everything but its tokens (never read, never decrypted). */
  describeInstance(key: InstanceKey): Promise<InstanceDescription | undefined>;

  /**
   * One page of the instances in `status` (of one app, if named), from the status index in key
   * order; `cursor` continues where the last page stopped.
   * @throws {ServiceError} INVALID_CURSOR for a cursor this store did not write for that status
   */
  listByStatus(query: { status: InstanceStatus; appId?: string; limit: number; cursor?: string }): Promise<StatusPage>;

  /** How many instances are in each status (of one app, if named): a count query per status on the status index. */
  countByStatus(query: { appId?: string }): Promise<Record<InstanceStatus, number>>;

  /**
   * One page of a full table scan (of one app, if named): each instance item's key ids per token
   * field, read from the envelopes (never decrypted). An operator job: it reads the whole table.
   * @throws {ServiceError} INVALID_CURSOR for a cursor this store did not write
   */
  scanKeyIds(query: { appId?: string; limit: number; cursor?: string }): Promise<KeyIdPage>;

  /**
   * Re-encrypts the instance's envelopes that are not under `currentKeyId` (only those under
   * `fromKeyId`, if named) with the app's cipher, without bumping the version or touching the lease,
   * conditional on the exact envelopes read (./transitions rewrapTokens).
   */
  rewrapTokens(key: InstanceKey, target: { currentKeyId: string; fromKeyId?: string }): Promise<RewrapOutcome>;

  /**
   * Stores the tokens of an existing install when no record, or only a bare one, exists
   * (./transitions importTokens); never over a record holding tokens or a tombstone.
   */
  importTokens(key: InstanceKey, tokens: ImportTokens): Promise<ImportOutcome>;

  /**
   * Stores the tokens of a legacy code exchange: creates the record, or replaces the refresh
   * token of an existing one (reinstall), reviving a tombstone older than `installedAt`.
   * A version-conditional create-or-replace, retried on a race with the record that beat it; it
   * neither takes nor honours the lease, so a holder that read the old version is refused later.
   *
   * A retry that finds its own write (same `installId`) returns it.
   *
   * @throws {StaleEventError} when a tombstone at or after `installedAt` exists (an uninstall
   * that followed the consent wins), or when the tokens of an install issued at or after
   * `installedAt` are already stored (a slow, older callback never replaces a newer refresh token).
   */
  storeInstallTokens(key: InstanceKey, tokens: InstallTokens, options?: WriteOptions): Promise<InstanceRecord>;

  /** Takes the instance's lease when free or expired; otherwise says who holds it. */
  acquireLease(key: InstanceKey, options: AcquireLeaseOptions): Promise<LeaseResult>;

  /**
   * Stores a minted or refreshed token and releases the lease, in one write.
   *
   * A retry that finds its own write (its answer was lost) returns the record.
   *
   * @throws {TokenConflictError} when the version moved or the lease is no longer ours; it
   * carries the current record.
   */
  storeLeasedTokens(key: InstanceKey, write: LeasedTokenWrite, options?: WriteOptions): Promise<InstanceRecord>;

  /**
   * Stores a refresh token Wix just rotated on `write.expectedVersion`, lease or not, never
   * removing another caller's live lease (see ./transitions rotatedTokenWrite).
   *
   * @throws {TokenConflictError} as {@link TokenStore.storeLeasedTokens}
   */
  storeRotatedTokens(key: InstanceKey, write: RotatedTokenWrite, options?: WriteOptions): Promise<InstanceRecord>;

  /**
   * Records a failed attempt (lastError, backoff, needs_reauth) and releases the lease.
   *
   * @throws {TokenConflictError} as {@link TokenStore.storeLeasedTokens}.
   */
  recordFailure(key: InstanceKey, failure: FailureOutcome, options?: WriteOptions): Promise<InstanceRecord>;

  /** Gives the lease up without writing tokens; false when it was not ours (any more). */
  releaseLease(key: InstanceKey, owner: string, options?: WriteOptions): Promise<boolean>;

  /**
   * Moves the instance's due time (null: out of the due index) and releases the lease, in one
   * write; tokens, status and version are left alone.
   *
   * @throws {TokenConflictError} as {@link TokenStore.storeLeasedTokens}.
   */
  rescheduleLeased(key: InstanceKey, write: LeasedReschedule, options?: WriteOptions): Promise<InstanceRecord>;

  /**
   * Moves a due time later without the lease (an instance of a failing app the sweep skips);
   * false when the due time is no longer `seenDueAt` or a live lease is held.
   */
  deferDue(key: InstanceKey, move: { seenDueAt: number; dueAt: number }): Promise<boolean>;

  /**
   * Polls until the holder wrote (version > sinceVersion) or the lease is gone or expired;
   * bounded by the store's clock, not by a number of polls.
   *
   * @throws {LeaseWaitTimeoutError} after `timeoutMs`.
   */
  waitForRelease(key: InstanceKey, options: WaitForReleaseOptions): Promise<InstanceRecord | undefined>;

  /**
   * Records use at `at` when the stored lastUsedAt is older than `LAST_USED_RESOLUTION_MS` (60 s);
   * no version bump, no lease check. Call it only when `shouldTouchLastUsed` says so.
   */
  touchLastUsed(key: InstanceKey, at: number): Promise<boolean>;

  /**
   * Applies AppInstalled: an active instance, grant kind kept (legacy) or client_credentials.
   * Never calls `cipherFor`: the answer carries no token.
   */
  recordAppInstalled(key: InstanceKey, event: AppInstalledEvent): Promise<LifecycleResult>;

  /**
   * Applies AppRemoved: a tombstone, tokens removed, out of the due index, purged after a while.
   * Never calls `cipherFor`: the answer carries no token.
   */
  recordAppRemoved(key: InstanceKey, event: AppRemovedEvent): Promise<LifecycleResult>;

  /**
   * Lists due instances across every shard of the due index, a page at a time (KEYS_ONLY: one
   * query per shard, no item read). The index is eventually consistent: after taking the lease,
   * check the record's `refreshDueAt` before calling Wix.
   */
  queryDue(options: QueryDueOptions): Promise<DuePage>;

}

/**
 * The install states' own small store: single use, recognising its own retried write.
 *
 * Every method may throw `StoreUnavailableError`.
 */
export interface InstallStateStore {
  /**
   * True the first time a state is consumed before `expiresAt` (and again for the same `consumer`,
   * whose earlier answer was lost); false for anyone else, or once expired.
   */
  consume(stateId: string, expiresAt: number, consumer: string, options?: WriteOptions): Promise<boolean>;

  /**
   * Undoes {@link InstallStateStore.consume} for `consumer`, so the state can be consumed once more
   * before it expires; only when nothing was spent with it. A no-op when it is not theirs.
   */
  release(stateId: string, consumer: string, options?: WriteOptions): Promise<void>;
}
