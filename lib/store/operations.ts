/**
 * The arguments and answers of the store's calls ({@link TokenStore} in ./types): the writes the
 * use cases make, the leases they take, the pages they walk.
 */
import type { GrantKind, InstanceKey, InstanceRecord, Lease } from './instance';

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

/** A page of {@link TokenStore.listByStatus}. */
export interface StatusPage {
  instances: InstanceKey[];
  cursor?: string;
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
