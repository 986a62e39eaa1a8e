import type { Clock } from '../runtime/clock';
import { tokenWriteEvents, type EventSink } from '../events';
import { Dependency, ErrorCategory, ServiceError } from '../errors';
import type { ServiceLogger } from '../runtime/logger';
import { failureOf, WIX_FAILURES } from './refresh-failure';
import { withAppCredentials, type AppSecretsProvider } from '../secrets';
import {
  ConflictReason,
  GrantKind,
  InstanceStatus,
  LEASE_CLOCK_SKEW_MS,
  StoreUnavailableError,
  TokenConflictError,
  type InstanceKey,
  type InstanceRecord,
  type LeasedTokenWrite,
  type RotatedTokenWrite,
  type TokenStore,
} from '../store';
import { WixErrorKind, WixOAuthError, type LegacyTokens, type WixClient } from '../wix';
import { recordGrantFailure, releaseLeaseQuietly } from './grant-failure';
import { leasedClientCredentials } from './client-credentials';
import { isHot, leasedCallDeadline, nextRefreshDueAt } from './refresh-policy';
import { retryWhileUnavailable } from './retry';
import { countOutcome, emptySummary, FailureClass, outcomeDetail, SkipReason, type RefreshOutcome, type RefreshSummary } from './refresh-summary';

/**
 * The store calls refresh makes; keep it narrow, infra/iam.yml grants refresh exactly the DynamoDB
 * actions these need (UpdateItem on the table, Query on the due index).
 */
export type RefreshStore = Pick<
  TokenStore,
  'acquireLease' | 'storeLeasedTokens' | 'storeRotatedTokens' | 'rescheduleLeased' | 'releaseLease' | 'recordFailure' | 'queryDue' | 'deferDue'
>;

export interface RefreshDeps {
  store: RefreshStore;
  wix: Pick<WixClient, 'refreshAccessToken' | 'createAccessToken'>;
  secrets: AppSecretsProvider;
  now: Clock['now'];
  random: () => number;
  /** A fresh lease owner id per attempt. */
  newLeaseOwner: () => string;
  /** Attributes never carry a token. */
  logger: ServiceLogger;
  /** Lifecycle events (InstanceRecovered, InstanceNeedsReauth, TokenRefreshFailing); none by default. */
  events?: EventSink;
  /** Kept between the end of the Wix calls and the lease's expiry, for the token write. Default 1.5 s (`LEASE_WRITE_MARGIN_MS`). */
  writeMarginMs?: number;
  /** With less time than this left for the Wix calls, an instance is not started. Default 1 s. */
  minCallMs?: number;
  /** Waits between retries of a rotated refresh token's write; setTimeout by default. */
  sleep?: Clock['sleep'];
}

export interface RefreshOneOptions {
  /** Epoch ms: no Wix call runs past it. */
  deadline: number;
  /**
   * A sweep's: the time the due index was read at. The record must still be due by then and be
   * hot, else it is skipped (dormant ones leave the index). Absent for a direct invoke, which
   * refreshes the instance now, fresh or not.
   */
  dueBy?: number;
}

const DEFAULT_MIN_CALL_MS = 1000;
/** Writes that moved the version but left the retired refresh token, gone over before giving up. */
const ROTATED_MAX_CONFLICTS = 5;

/** A rotated refresh token that could not be stored (failure class `rotated_token_lost`); `cause` is why. */
export class RotatedTokenLostError extends ServiceError {
  /** The store's failure, as far as a caller is concerned; refresh counts it apart (its code). */
  override readonly category = ErrorCategory.Unavailable;
  override readonly dependency = Dependency.Store;
  constructor(cause: unknown) {
    super('ROTATED_TOKEN_LOST', 'A refresh token Wix rotated could not be stored', { cause });
  }
}

/**
 * Refreshes one instance under its lease: the refresh_token grant for a legacy instance (its
 * health pass), client credentials otherwise. The outcome drives the instance's state:
 *
 * ```
 * refresh_token ok          new refresh token (if any) and access token stored in one write, first
 *                           (a rotated one even after the lease ran out: see storeRotated)
 * refresh_token refused     client credentials instead ──ok──────▶ grantKind client_credentials, active
 *                                                      └─refused─▶ needs_reauth, out of the index
 * client credentials ok     token stored, next due time by refresh-policy
 * transient                 lastError, due again after a jittered backoff
 * refused (grant_invalid)   needs_reauth, out of the index
 * credentials_rejected,     lease released, instance untouched (the app's problem, not the instance's)
 *   bad_request
 * ```
 *
 * Store, secrets and decryption failures are returned as failed outcomes (the lease is released
 * or simply expires); anything unexpected is rethrown.
 */
export async function refreshOne(deps: RefreshDeps, given: InstanceKey, options: RefreshOneOptions): Promise<RefreshOutcome> {
  // Log lines spread the key: keep just its two ids, whatever richer object the caller passed.
  const key = instanceKeyOf(given);
  const owner = deps.newLeaseOwner();
  try {
    const lease = await deps.store.acquireLease(key, { owner });
    if (!lease.acquired) {
      if (lease.reason === 'held') return { status: 'skipped', reason: SkipReason.Leased };
      return { status: 'skipped', reason: lease.reason === 'uninstalled' ? SkipReason.Uninstalled : SkipReason.NotFound };
    }
    return await underLease(deps, key, lease.record, owner, lease.lease.expiresAt, options);
  } catch (error) {
    // The lease may still be ours (say the record was taken but could not be decrypted): give it back.
    await releaseLeaseQuietly(deps.store, key, owner);
    return failureOf(error);
  }
}

/**
 * The direct invoke: refreshes one instance now, fresh or not, and sums it up in the same counts
 * as a sweep (`examined` 1).
 */
export async function refreshNow(deps: RefreshDeps, given: InstanceKey, options: { deadline: number }): Promise<RefreshSummary> {
  // The summary goes back to the invoker and into a log line: just the two ids.
  const key = instanceKeyOf(given);
  const startedAt = deps.now();
  const outcome = await refreshOne(deps, key, { deadline: options.deadline });
  const summary = emptySummary('instance');
  summary.examined = 1;
  countOutcome(summary, outcome);
  summary.complete = outcome.status !== 'left';
  summary.durationMs = deps.now() - startedAt;
  const detail = outcomeDetail(outcome);
  summary.instance = { ...key, outcome: outcome.status, ...(detail === undefined ? {} : { detail }) };
  return summary;
}

async function underLease(
  deps: RefreshDeps,
  key: InstanceKey,
  record: InstanceRecord,
  owner: string,
  leaseExpiresAt: number,
  options: RefreshOneOptions,
): Promise<RefreshOutcome> {
  const now = deps.now();
  if (options.dueBy !== undefined) {
    // The due index is eventually consistent and other sweeps race this one: the record decides.
    if (record.refreshDueAt === undefined || record.refreshDueAt > options.dueBy) {
      await deps.store.releaseLease(key, owner);
      return { status: 'skipped', reason: SkipReason.NotDue };
    }
    if (!isHot(record, now)) {
      await deps.store.rescheduleLeased(key, { owner, expectedVersion: record.version, refreshDueAt: null, ...usedAtRead(record) });
      return { status: 'skipped', reason: SkipReason.Dormant };
    }
  }

  const deadline = leasedCallDeadline(options.deadline, leaseExpiresAt, deps.writeMarginMs);
  const minCallMs = deps.minCallMs ?? DEFAULT_MIN_CALL_MS;
  if (deadline - now < minCallMs) {
    await deps.store.releaseLease(key, owner);
    // The invocation's deadline, or only this lease (taken by a slow write): see RefreshOutcome.
    return { status: 'left', outOfTime: leasedCallDeadline(options.deadline, Infinity, deps.writeMarginMs) - now < minCallMs };
  }
  // A legacy instance already marked needs_reauth had its refresh token refused: skip to client credentials.
  if (record.grantKind === GrantKind.Legacy && record.refreshToken !== undefined && record.status !== InstanceStatus.NeedsReauth) {
    return healthPass(deps, key, record, record.refreshToken, owner, { callDeadline: deadline, storeDeadline: options.deadline });
  }
  return clientCredentials(deps, key, record, owner, deadline);
}

/** The legacy health pass: proves the refresh token works and stores what Wix hands back, first. */
async function healthPass(
  deps: RefreshDeps,
  key: InstanceKey,
  record: InstanceRecord,
  refreshToken: string,
  owner: string,
  deadlines: { callDeadline: number; storeDeadline: number },
): Promise<RefreshOutcome> {
  const deadline = deadlines.callDeadline;
  let tokens: LegacyTokens;
  try {
    tokens = await withAppCredentials(deps.secrets, key.appId, (credentials) =>
      deps.wix.refreshAccessToken(credentials, refreshToken, { deadline }),
    );
  } catch (error) {
    if (error instanceof WixOAuthError && error.kind === WixErrorKind.GrantInvalid) {
      deps.logger.warn('legacy refresh token refused; trying client credentials', { ...key, code: error.code, requestId: error.requestId });
      return clientCredentials(deps, key, record, owner, deadline);
    }
    return failedGrant(deps, key, record, owner, error, { refreshTokenRefused: false });
  }

  const rotated = tokens.refreshToken !== refreshToken;
  const refreshDueAt = nextRefreshDueAt(record, { grant: 'refresh_token', grantKind: GrantKind.Legacy, expiresAt: tokens.expiresAt }, deps.now());
  const write: LeasedTokenWrite = {
    owner,
    expectedVersion: record.version,
    // Callers are served from the store: a client-credentials token mint stored outlives this 5-minute one.
    ...longerLived(record, tokens),
    refreshDueAt,
    ...usedAtRead(record),
    ...(rotated ? { refreshToken: tokens.refreshToken } : {}),
  };
  const stored = rotated
    ? await storeRotated(deps, key, { write, retired: refreshToken }, deadlines.storeDeadline)
    : await deps.store.storeLeasedTokens(key, write);
  if (deps.events !== undefined) await deps.events.emit(tokenWriteEvents(record, stored, deps.now(), deps.events.failingAfter));
  return { status: 'refreshed', grant: 'refresh_token', fellBack: false, rotated, refreshDueAt };
}

/**
 * Stores a refresh token Wix just rotated. Wix has retired the one we sent (`retired`), so this
 * write holds the instance's only working token: it is retried while the store is unavailable,
 * with everything the invocation has left (`deadline`), and it goes over any write that left the
 * retired token in place (our lease ran out and a mint stored an access token, an AppInstalled
 * moved the version), with or without the lease, never taking a live holder's lease away. Only a
 * record holding another refresh token (a reinstall's) or none (an uninstall) wins over it.
 *
 * ```
 * write ──ok──────────────────────────────────────────────────────▶ stored
 *   ├─ store unavailable ── time left? ──yes──▶ wait, write again
 *   │                                   └─no──▶ RotatedTokenLostError (logged as an error)
 *   ├─ conflict: the record holds our new token ─────────────────▶ stored (an earlier attempt's answer was lost)
 *   ├─ conflict: the record still holds the retired token ───────▶ write again on the version it has
 *   │                                                               (RotatedTokenLostError after 5)
 *   └─ conflict: another refresh token, or none ─────────────────▶ throw: the reinstall or the uninstall wins
 * ```
 */
async function storeRotated(
  deps: RefreshDeps,
  key: InstanceKey,
  rotation: { write: LeasedTokenWrite; retired: string },
  deadline: number,
): Promise<InstanceRecord> {
  let write: RotatedTokenWrite = rotation.write;
  let leased = true;
  let conflicts = 0;
  const onRetry = (attempt: number, delayMs: number, error: StoreUnavailableError) =>
    deps.logger.warn('retrying the store of a rotated refresh token', { ...key, attempt, delayMs, awsErrorName: error.awsErrorName });
  for (;;) {
    try {
      const current = write;
      return await retryWhileUnavailable(
        deps,
        (attempt) => (leased ? deps.store.storeLeasedTokens(key, current, attempt) : deps.store.storeRotatedTokens(key, current, attempt)),
        { deadline, onRetry },
      );
    } catch (error) {
      if (error instanceof TokenConflictError) {
        const current = error.current;
        if (current !== undefined && current.refreshToken === write.refreshToken) return current;
        conflicts += 1;
        // Still installed and still on the retired token: nobody stored a newer one, ours is the only one that works.
        const retiredStillStored = current !== undefined && current.status !== InstanceStatus.Uninstalled && current.refreshToken === rotation.retired;
        if (!retiredStillStored) {
          deps.logger.warn('rotated refresh token not stored: a reinstall or an uninstall came after it', { ...key, reason: error.reason });
          throw error;
        }
        if (conflicts <= ROTATED_MAX_CONFLICTS && deps.now() < deadline) {
          write = rebased(write, current, deps.now());
          leased = false;
          continue;
        }
        throw lost(deps, key, error, { conflicts });
      }
      if (error instanceof StoreUnavailableError) throw lost(deps, key, error, { awsErrorName: error.awsErrorName });
      throw error;
    }
  }
}

/** The one error an operator must see: logged at error level, counted as `rotated_token_lost`. */
function lost(deps: RefreshDeps, key: InstanceKey, cause: TokenConflictError | StoreUnavailableError, detail: Record<string, unknown>): RotatedTokenLostError {
  deps.logger.error('rotated refresh token lost: the instance needs a reinstall unless Wix still accepts the old one', { ...key, code: cause.code, ...detail });
  return new RotatedTokenLostError(cause);
}

/**
 * A rotated refresh token's write, moved onto the record as it now is: whatever version it has,
 * keeping the longer-lived access token, legacy again (the token works, whatever a refresher that
 * was refused the retired one wrote), and leaving another caller's live lease where it is.
 */
function rebased(write: RotatedTokenWrite, current: InstanceRecord, now: number): RotatedTokenWrite {
  const { liveHolder: _previous, ...rest } = write;
  // A lease counts as live until it is over by more than the clock skew (its holder's clock wrote it).
  const live = current.lease !== undefined && current.lease.owner !== write.owner && current.lease.expiresAt > now - LEASE_CLOCK_SKEW_MS;
  const holder = live ? current.lease : undefined;
  const { lastUsedAtRead: _read, ...unread } = rest;
  return {
    ...unread,
    ...longerLived(current, { accessToken: write.accessToken, expiresAt: write.accessTokenExpiresAt }),
    // Judged again on the record as it now is: a use recorded since keeps it in the due index.
    refreshDueAt: write.refreshDueAt ?? nextRefreshDueAt(current, { grant: 'refresh_token', grantKind: GrantKind.Legacy, expiresAt: write.accessTokenExpiresAt }, now),
    ...usedAtRead(current),
    expectedVersion: current.version,
    grantKind: GrantKind.Legacy,
    ...(holder === undefined ? {} : { liveHolder: holder }),
  };
}

/** What a write that may take the instance out of the due index says about the use it read. */
function usedAtRead(record: Pick<InstanceRecord, 'lastUsedAt'>): { lastUsedAtRead?: number } {
  return record.lastUsedAt === undefined ? {} : { lastUsedAtRead: record.lastUsedAt };
}

/** The access token that lasts longer: the one stored in `record`, or the `fresh` one. */
function longerLived(
  record: Pick<InstanceRecord, 'accessToken' | 'accessTokenExpiresAt'>,
  fresh: { accessToken: string; expiresAt: number },
): Pick<LeasedTokenWrite, 'accessToken' | 'accessTokenExpiresAt'> {
  if (record.accessToken !== undefined && record.accessTokenExpiresAt !== undefined && record.accessTokenExpiresAt > fresh.expiresAt) {
    return { accessToken: record.accessToken, accessTokenExpiresAt: record.accessTokenExpiresAt };
  }
  return { accessToken: fresh.accessToken, accessTokenExpiresAt: fresh.expiresAt };
}

/** A client-credentials mint; for a legacy instance, the fallback after its refresh token was refused. */
async function clientCredentials(
  deps: RefreshDeps,
  key: InstanceKey,
  record: InstanceRecord,
  owner: string,
  deadline: number,
): Promise<RefreshOutcome> {
  // A legacy instance gets here only without a working refresh token: refused now, refused on an
  // earlier run (needs_reauth), or none held. It stays on client credentials from now on.
  const fellBack = record.grantKind === GrantKind.Legacy;
  let token;
  try {
    token = await leasedClientCredentials.grant(deps, key, deadline);
  } catch (error) {
    return failedGrant(deps, key, record, owner, error, { refreshTokenRefused: fellBack });
  }

  const refreshDueAt = await leasedClientCredentials.store(deps, key, record, owner, token, { fellBack });
  if (fellBack) deps.logger.warn('legacy instance now served with client credentials; its refresh token needs re-authorisation', { ...key });
  return { status: 'refreshed', grant: 'client_credentials', fellBack, rotated: false, refreshDueAt };
}

/** Writes down a failed grant (shared with mint) and says what happened. */
async function failedGrant(
  deps: RefreshDeps,
  key: InstanceKey,
  record: InstanceRecord,
  owner: string,
  error: unknown,
  { refreshTokenRefused }: { refreshTokenRefused: boolean },
): Promise<RefreshOutcome> {
  if (!(error instanceof WixOAuthError)) throw error;
  const write = await recordGrantFailure(deps, key, record, owner, error, { needsReauth: refreshTokenRefused });
  const needsReauth = write === 'recorded' && (error.kind === WixErrorKind.GrantInvalid || refreshTokenRefused);
  const failure = WIX_FAILURES[error.kind];
  // Every failure names Wix's request id (wix-oauth.md §4); a transient one alone is no cause for a warning.
  const line = { ...key, failure, code: error.code, status: error.status, requestId: error.requestId, needsReauth };
  if (failure === FailureClass.Transient && !needsReauth) deps.logger.info('refresh failed', line);
  else deps.logger.warn('refresh failed', line);
  return { status: 'failed', failure, code: error.code, needsReauth };
}

/** The two ids of an instance key and nothing else (a caller's object may carry more, a token say). */
function instanceKeyOf(key: InstanceKey): InstanceKey {
  return { appId: key.appId, instanceId: key.instanceId };
}
