import type { TokenCipher } from '../crypto';

export type { TokenCipher };

/** Where an instance stands; `as const` object so callers can branch without string literals. */
export const InstanceStatus = {
  Active: 'active',
  /** Wix refused what we hold (refresh token or client credentials); nothing to refresh until a reinstall. */
  NeedsReauth: 'needs_reauth',
  /** A tombstone: AppRemoved was applied, tokens are gone, the item expires after a while. */
  Uninstalled: 'uninstalled',
} as const;
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

/** How tokens for an instance are obtained. */
export const GrantKind = {
  /** A refresh token from the legacy install handshake (refresh_token grant). */
  Legacy: 'legacy',
  /** Nothing per instance but its id (client_credentials grant). */
  ClientCredentials: 'client_credentials',
} as const;
export type GrantKind = (typeof GrantKind)[keyof typeof GrantKind];

/** Identifies one install of one app; neither id may contain `#`. */
export interface InstanceKey {
  appId: string;
  instanceId: string;
}

/** Who holds an instance's lease, and until when (epoch ms). */
export interface Lease {
  owner: string;
  /** By the holder's clock. */
  expiresAt: number;
  /** How long it was taken for (absent on leases written before this was recorded). */
  lengthMs?: number;
}

/** The last failed attempt to get a token; no secret ever goes in here. */
export interface LastError {
  /** A failure class, e.g. a `WixErrorKind` (`transient`, `grant_invalid`, ...). */
  kind: string;
  /** A stable error code, e.g. `WIX_INVALID_GRANT`. */
  code: string;
  /** When it happened, epoch ms. */
  at: number;
  /** Failures in a row since the last success. */
  count: number;
}

/**
 * One app instance as the use cases see it: tokens in plaintext, times in epoch ms.
 *
 * It carries secrets: never log it whole (`withoutTokens` in ./record).
 */
export interface InstanceRecord extends InstanceKey {
  status: InstanceStatus;
  grantKind: GrantKind;
  refreshToken?: string;
  accessToken?: string;
  accessTokenExpiresAt?: number;
  /** Bumped by every write that changes tokens or status; lease and last-use writes leave it alone. */
  version: number;
  lease?: Lease;
  lastUsedAt?: number;
  /** When the sweep should next look at this instance; absent when there is nothing to refresh. */
  refreshDueAt?: number;
  lastError?: LastError;
  createdAt: number;
  updatedAt: number;
  /** The newest lifecycle event time applied (install callback, AppInstalled, AppRemoved). */
  lastEventAt?: number;
  /** Wix's issue time of the install callback's token whose tokens are stored, epoch ms. */
  lastInstallAt?: number;
  originInstanceId?: string;
  /** Tombstones only: when DynamoDB's TTL may delete the item, epoch ms. */
  purgeAt?: number;
}

/** What the install callback stores after exchanging the code. */
export interface InstallTokens {
  refreshToken: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  /**
   * The install's time on Wix's clock (the exchanged token's issue time from Token Info), epoch ms:
   * ordered against webhook `iat`, never against this service's clock.
   */
  installedAt: number;
  /**
   * Unique per install callback (e.g. a hash of its state): a retried write recognises its own.
   * Defaults to a fresh id per call, so only the store's own retries are recognised.
   */
  installId?: string;
  /** Next sweep time, or null to keep the instance out of the due index. */
  refreshDueAt: number | null;
}

export interface AcquireLeaseOptions {
  /** Unique per attempt (e.g. a random id per invocation). */
  owner: string;
  /** Lease length; defaults to the store's `leaseTtlMs` (5 s). Keep it well under the Lambda timeout. */
  ttlMs?: number;
  /**
   * Create a bare active client-credentials record when none exists (an instance whose
   * AppInstalled never reached us). It carries no lastEventAt, so any AppRemoved still applies.
   */
  createIfMissing?: boolean;
  /**
   * The holder's lease as the caller saw it, watched unchanged for a whole lease length on the
   * caller's own clock: taken over even if the holder's clock says it has time left.
   */
  takeOver?: Lease;
}

/** The outcome of {@link TokenStore.acquireLease}; every branch carries what the caller needs next. */
export type LeaseResult =
  | { acquired: true; lease: Lease; record: InstanceRecord }
  | { acquired: false; reason: 'held'; holder: Lease; record: InstanceRecord }
  | { acquired: false; reason: 'uninstalled'; record: InstanceRecord }
  | { acquired: false; reason: 'not_found' };

/** A token write made by the lease holder after a successful Wix call. */
export interface LeasedTokenWrite {
  owner: string;
  /** The version the holder read when it took the lease. */
  expectedVersion: number;
  accessToken: string;
  accessTokenExpiresAt: number;
  /** Only when Wix handed back a refresh token different from the stored one. */
  refreshToken?: string;
  /** Set when the grant used differs from the stored one (e.g. a legacy instance fell back). */
  grantKind?: GrantKind;
  /** Next sweep time, or null to leave the due index. */
  refreshDueAt: number | null;
  /** Records use in the same write (a mint), so the sweep sees the instance as hot. */
  lastUsedAt?: number;
  /** See {@link LeavingTheDueIndex}. */
  lastUsedAtRead?: number;
}

/**
 * A holder that takes an instance out of the due index (`refreshDueAt` null: dormant) passes the
 * `lastUsedAt` of the record it judged (none: leave it out). Mint records use without a version
 * (touchLastUsed), so the write is refused as a conflict if a use was recorded since: an instance
 * a caller has just used never leaves the index.
 */
export type LeavingTheDueIndex = Pick<LeasedTokenWrite, 'lastUsedAtRead'>;

/**
 * A refresh token Wix just rotated, written on the version the writer last read (lease or not).
 * `liveHolder` is the other caller's live lease seen in that read: it is left in place.
 */
export interface RotatedTokenWrite extends LeasedTokenWrite {
  liveHolder?: Lease;
}

/** Per-call options of a write. */
export interface WriteOptions {
  /**
   * The call is abandoned (StoreUnavailableError, `AbortError`) if DynamoDB has not answered
   * within this many ms; a duration, so the caller's clock and the store's need not agree.
   */
  timeoutMs?: number;
}

/** An instance as an operator sees it: no token. Times are epoch ms. */
export interface InstanceDescription extends InstanceKey {
  status: InstanceStatus;
  grantKind: GrantKind;
  version: number;
  accessTokenExpiresAt?: number;
  /** The last token write (a mint, a refresh, an install), by this service's clock. */
  refreshedAt?: number;
  refreshDueAt?: number;
  lastUsedAt?: number;
  lastEventAt?: number;
  lastError?: LastError;
  createdAt: number;
  updatedAt: number;
}

/** A page of {@link TokenStore.listByStatus}. */
export interface StatusPage {
  instances: InstanceKey[];
  cursor?: string;
}

/** The small projection mint reads on every warm call: enough to refuse, never a token. */
export interface InstanceStatusView extends InstanceKey {
  status: InstanceStatus;
  version: number;
  lastUsedAt?: number;
  lastError?: LastError;
}

/** A new due time (or none) set by the lease holder without a Wix call, e.g. for a dormant instance. */
export interface LeasedReschedule extends LeavingTheDueIndex {
  owner: string;
  expectedVersion: number;
  /** Next sweep time, or null to leave the due index. */
  refreshDueAt: number | null;
}

/** A failed Wix call, recorded by the lease holder. */
export interface FailureOutcome {
  owner: string;
  expectedVersion: number;
  error: { kind: string; code: string };
  at: number;
  /** Backoff (with the caller's jitter) until the next sweep attempt, or null to leave the due index. */
  retryAt: number | null;
  /** Mark the instance needs_reauth. */
  needsReauth?: boolean;
}

export interface WaitForReleaseOptions {
  /** The version seen while the lease was held; a higher one means the holder wrote. */
  sinceVersion: number;
  /** Waits at most this long by the store's clock (no poll starts after it). */
  timeoutMs: number;
  intervalMs: number;
}

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

/** One instance the sweep should look at. */
export interface DueItem extends InstanceKey {
  dueAt: number;
}

export interface QueryDueOptions {
  /** Epoch ms; items with dueAt <= now are due. */
  now: number;
  /** At most this many items per page. */
  limit: number;
  /** From the previous page, to resume. */
  cursor?: string;
  /** Where a fresh walk starts (0..shards-1); rotate it so no shard is always served last. */
  startShard?: number;
}

export interface DuePage {
  items: DueItem[];
  /** Absent when every shard has been read to the end. */
  cursor?: string;
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
/** Which key ids an instance item's envelopes are under (no envelope, no token). */
export interface EnvelopeKeyIds extends InstanceKey {
  version: number;
  refreshTokenKeyId?: string;
  accessTokenKeyId?: string;
}

/** One page of {@link TokenStore.scanKeyIds}; `cursor` continues the scan. */
export interface KeyIdPage {
  items: EnvelopeKeyIds[];
  cursor?: string;
}

/**
 * What {@link TokenStore.rewrapTokens} did: `rewrapped`; `current` (nothing under an old key);
 * `changed` (a token write landed between the read and the re-wrap: read again); `absent`.
 */
export type RewrapOutcome = 'rewrapped' | 'current' | 'changed' | 'absent';

/** Tokens of an existing install checked with Wix, for {@link TokenStore.importTokens}. */
export interface ImportTokens {
  /** Unique per import run and instance: a retried write recognises its own. */
  importId: string;
  grantKind: GrantKind;
  /** Legacy grants only: the refresh token Wix just handed back. */
  refreshToken?: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshDueAt: number | null;
}

/** `skipped` with why: a record holding tokens (superseded), a tombstone, a live lease, or a write since the read. */
export type ImportOutcome = { outcome: 'imported' } | { outcome: 'skipped'; reason: 'uninstalled' | 'superseded' | 'held' | 'version' };

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
