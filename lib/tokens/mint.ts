import type { AppSecretsProvider } from '../secrets';
import {
  ConflictReason,
  DEFAULT_LEASE_TTL_MS,
  InstanceStatus,
  LeaseWaitTimeoutError,
  shouldTouchLastUsed,
  StoreUnavailableError,
  TokenConflictError,
  type InstanceKey,
  type InstanceRecord,
  type InstanceStatusView,
  type Lease,
  type TokenStore,
} from '../store';
import { WixErrorKind, type WixClient } from '../wix';
import { InstanceUninstalledError, ServiceUnavailableError, TokenUnavailableError, WixRejectedError } from './errors';
import { isOutage, toInvokeError } from './invoke-errors';
import type { MintRequest } from './mint-request';
import { leasedClientCredentials } from './client-credentials';
import { recordGrantFailure, releaseLeaseQuietly } from './grant-failure';
import { isUsable, leasedCallDeadline, REJECTION_COOLDOWN_MS } from './refresh-policy';
import { retryWhileUnavailable } from './retry';
import type { EventSink } from '../events';
import type { ServiceLogger } from '../runtime/logger';
import { LONGEST_TOKEN_LIFETIME_MS, type RejectedTokens } from './rejected-tokens';
import type { CachedToken, TokenCache } from './token-cache';
import { tokenHash } from './token-hash';

/**
 * The store calls mint makes; keep it narrow, infra/iam.yml grants mint exactly the DynamoDB
 * actions these need (GetItem, UpdateItem).
 */
export type MintStore = Pick<
  TokenStore,
  | 'getInstance'
  | 'getStatus'
  | 'acquireLease'
  | 'storeLeasedTokens'
  | 'recordFailure'
  | 'rescheduleLeased'
  | 'releaseLease'
  | 'waitForRelease'
  | 'touchLastUsed'
>;

export interface MintDeps {
  store: MintStore;
  wix: Pick<WixClient, 'createAccessToken'>;
  secrets: AppSecretsProvider;
  cache: TokenCache<CacheEntry>;
  /**
   * Tokens callers said Wix refused (`rejectedToken`), never answered again by this container.
   * Without it only the request that names a token refuses it.
   */
  rejected?: RejectedTokens;
  /** Lifecycle events of the transitions a mint makes (recovered, needs_reauth, failing); none by default. */
  events?: EventSink;
  now: () => number;
  random: () => number;
  /** A fresh lease owner id per attempt. */
  newLeaseOwner: () => string;
  /** Attributes never carry a token. */
  logger: Pick<ServiceLogger, 'warn'>;
  /**
   * How long a waiter polls for another caller's mint, at most (the deadline cuts it shorter).
   * Default: a lease's length plus 2 s, room to watch a dead holder's lease run out on this
   * container's clock and take exactly that lease over.
   */
  leaseWaitMs?: number;
  leasePollMs?: number;
  /**
   * How long a warm container serves an instance from memory without looking at its status.
   * Default 0: every warm call makes one strongly consistent read of the status projection, so
   * no container returns a token once AppRemoved is answered (read your uninstall). An operator
   * may trade that read for a window (`MINT_RECHECK_SECONDS`).
   */
  recheckIntervalMs?: number;
  /** Waits between retries of the token write after a Wix call; setTimeout by default. */
  sleep?: (ms: number) => Promise<void>;
}

export interface MintResult {
  appId: string;
  instanceId: string;
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** How a mint was served; for logs, metrics and tests. */
export type MintSource = 'memory' | 'store' | 'wix' | 'waited' | 'stale';

/** What a container keeps per instance. */
export interface CacheEntry extends CachedToken {
  /** When this container last read the instance's record, epoch ms. */
  checkedAt: number;
  /** The record's version the token was read or stored at; undefined when not known (its write failed). */
  version: number | undefined;
}

const MAX_LEASE_ROUNDS = 3;

/**
 * The token write after a Wix call may use this much of the invoke's answer margin (the handler
 * keeps a second after `deadline`): storing what Wix issued comes before answering early.
 */
const ANSWER_RESERVE_MS = 500;

/** With less than this left for the Wix call, a holder does not start it (it could only fail). */
const MIN_CALL_MS = 250;

/**
 * Returns an access token for one app instance: from this container's memory, else from the
 * store, else minted with client credentials, with one Wix call per instance across containers
 * (the store's lease; the others wait for the holder's result).
 *
 * @throws {InstanceUninstalledError} the app was removed from the instance
 * @throws {WixRejectedError} Wix refused the instance
 * @throws {TokenUnavailableError} Wix failed within the deadline and nothing valid was stored
 * @throws {ServiceUnavailableError} the store or the app's secrets could not be read, or Wix
 *   refused the app's credentials
 */
export async function mintAccessToken(
  deps: MintDeps,
  request: MintRequest,
  options: { deadline: number },
): Promise<MintResult & { source: MintSource }> {
  try {
    return await mintOrServe(deps, request, options.deadline);
  } catch (error) {
    throw toInvokeError(error);
  }
}

async function mintOrServe(deps: MintDeps, request: MintRequest, deadline: number): Promise<MintResult & { source: MintSource }> {
  const key: InstanceKey = { appId: request.appId, instanceId: request.instanceId };
  const cacheKey = `${key.appId}#${key.instanceId}`;

  const cached = deps.cache.get(cacheKey);
  if (request.rejectedTokenHash !== undefined) noteRejection(deps, request.rejectedTokenHash, cached);
  // A token is served only if it lasts long enough and no caller said Wix refused it.
  const refused = (token: string): boolean => {
    if (request.rejectedTokenHash === undefined && (deps.rejected?.empty ?? true)) return false;
    const hash = tokenHash(token);
    return hash === request.rejectedTokenHash || deps.rejected?.has(hash, deps.now()) === true;
  };
  const servable = (token: string | undefined, expiresAt: number | undefined, minValidityMs: number): boolean =>
    token !== undefined && isUsable(expiresAt, deps.now(), minValidityMs) && !refused(token);

  if (cached && refused(cached.accessToken)) deps.cache.delete(cacheKey);
  else if (cached && isUsable(cached.expiresAt, deps.now(), request.minValidityMs)) {
    if (deps.now() - cached.checkedAt < (deps.recheckIntervalMs ?? 0)) {
      return { ...key, accessToken: cached.accessToken, expiresAt: cached.expiresAt, source: 'memory' };
    }
    const confirmed = await recheck(deps, key, cacheKey, cached);
    if (confirmed !== undefined) return confirmed;
  }

  // The newest record seen: if Wix or the lease holder fails, a still-valid token in it is served.
  // Strongly consistent, so an AppRemoved answered before this read is seen by it.
  let lastSeen = await deps.store.getInstance(key, { consistentRead: true });
  if (lastSeen) {
    refuseIfGone(lastSeen, deps.now());
    if (servable(lastSeen.accessToken, lastSeen.accessTokenExpiresAt, request.minValidityMs)) {
      return remember(deps, lastSeen, 'store', shouldTouchLastUsed(lastSeen, deps.now()));
    }
  }

  let attempted: string | undefined;
  try {
    // A holder's lease this container watched run out on its own clock: taken over next round.
    let takeOver: Lease | undefined;
    for (let round = 1; round <= MAX_LEASE_ROUNDS; round++) {
      const owner = deps.newLeaseOwner();
      attempted = owner;
      const lease = await deps.store.acquireLease(key, { owner, createIfMissing: true, ...(takeOver === undefined ? {} : { takeOver }) });
      takeOver = undefined;
      if (!lease.acquired) {
        if (lease.reason === 'uninstalled') throw new InstanceUninstalledError();
        if (lease.reason === 'not_found') throw new ServiceUnavailableError('the instance record could not be created');
        lastSeen = lease.record;
        const settled = await waitForHolder(deps, key, lease.record.version, deadline);
        // Nobody wrote and a lease is still there: the wait watched it out (or it is over by more
        // than the clock skew), so its holder is gone, whatever its own clock says.
        if (settled?.lease !== undefined && settled.version <= lease.record.version) takeOver = settled.lease;
        if (settled) {
          lastSeen = settled;
          refuseIfGone(settled, deps.now());
          if (servable(settled.accessToken, settled.accessTokenExpiresAt, request.minValidityMs)) {
            return remember(deps, settled, 'waited', true);
          }
        }
        continue;
      }

      const record = lease.record;
      lastSeen = record;
      try {
        refuseIfGone(record, deps.now());
      } catch (error) {
        await releaseLeaseQuietly(deps.store, key, owner);
        throw error;
      }
      // Someone may have minted between our read and the lease: use theirs.
      if (servable(record.accessToken, record.accessTokenExpiresAt, request.minValidityMs)) {
        await releaseLeaseQuietly(deps.store, key, owner);
        return remember(deps, record, 'store', true);
      }
      return await mintUnderLease(deps, key, record, owner, { expiresAt: lease.lease.expiresAt, deadline });
    }
    throw new TokenUnavailableError('another caller holds this instance and has not produced a token yet');
  } catch (error) {
    // The lease may be ours though no answer said so (its write applied, its answer lost).
    if (attempted !== undefined && error instanceof StoreUnavailableError) await releaseLeaseQuietly(deps.store, key, attempted);
    const fallback = lastSeen;
    if (isOutage(error) && fallback !== undefined && servable(fallback.accessToken, fallback.accessTokenExpiresAt, 0)) {
      deps.logger.warn('serving the stored token: a fresher one could not be had', { ...key, code: codeOf(error) });
      return remember(deps, fallback, 'stale', false);
    }
    throw error;
  }
}

/**
 * Remembers a token a caller says Wix refused, until it would have expired (known when it is the
 * one this container holds for the instance).
 */
function noteRejection(deps: MintDeps, hash: string, cached: CacheEntry | undefined): void {
  const now = deps.now();
  const expiresAt = cached !== undefined && tokenHash(cached.accessToken) === hash ? cached.expiresAt : now + LONGEST_TOKEN_LIFETIME_MS;
  deps.rejected?.add(hash, expiresAt);
}

/**
 * A warm container's look at the status behind a cached token (one strongly consistent read of a
 * small projection): an uninstall or a refusal evicts it, use is recorded for the sweep. Only a
 * store outage lets the cached token be served unconfirmed. A record that moved on since the
 * token was cached (a refresh, or an uninstall and a reinstall in between) sends the call to the
 * store: undefined.
 */
async function recheck(
  deps: MintDeps,
  key: InstanceKey,
  cacheKey: string,
  cached: CacheEntry,
): Promise<(MintResult & { source: MintSource }) | undefined> {
  try {
    const status = await deps.store.getStatus(key);
    if (status === undefined) throw new InstanceUninstalledError();
    refuseIfGone(status, deps.now());
    if (status.version !== cached.version) {
      deps.cache.delete(cacheKey);
      return undefined;
    }
    if (shouldTouchLastUsed(status, deps.now())) await deps.store.touchLastUsed(key, deps.now());
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) {
      deps.cache.delete(cacheKey);
      throw error;
    }
    deps.logger.warn('could not recheck the instance; serving the cached token', { ...key, code: error.code });
  }
  cached.checkedAt = deps.now();
  return { ...key, accessToken: cached.accessToken, expiresAt: cached.expiresAt, source: 'memory' };
}

/**
 * The lease holder's path: one Wix call, then one conditional write that also frees the lease.
 * The write comes first after the call and has the rest of the lease for its retries; whatever
 * happens to it, the lease is not left behind, and a token the record says belongs to an
 * uninstalled instance is never answered.
 */
async function mintUnderLease(
  deps: MintDeps,
  key: InstanceKey,
  record: InstanceRecord,
  owner: string,
  lease: { expiresAt: number; deadline: number },
): Promise<MintResult & { source: MintSource }> {
  const callDeadline = leasedCallDeadline(lease.deadline, lease.expiresAt);
  if (callDeadline - deps.now() < MIN_CALL_MS) {
    await releaseLeaseQuietly(deps.store, key, owner);
    throw new TokenUnavailableError('no time left for a Wix call');
  }
  let token;
  try {
    token = await leasedClientCredentials.grant(deps, key, callDeadline);
  } catch (error) {
    try {
      // The instance was uninstalled during the call: nothing may be served, not even a stored token.
      if ((await recordGrantFailure(deps, key, record, owner, error)) === 'uninstalled') throw new InstanceUninstalledError();
    } catch (storeError) {
      // The Wix failure is the answer; the lease simply expires.
      if (!(storeError instanceof StoreUnavailableError)) throw storeError;
      deps.logger.warn('could not record the failed mint', { ...key, code: storeError.code });
    }
    throw error;
  }

  const minted = { ...record, accessToken: token.accessToken, accessTokenExpiresAt: token.expiresAt, lastUsedAt: deps.now() };
  let storedAt: number | undefined;
  try {
    await retryWhileUnavailable(
      deps,
      (attempt) => leasedClientCredentials.store(deps, key, record, owner, token, { lastUsedAt: minted.lastUsedAt }, attempt),
      { deadline: Math.min(lease.expiresAt, lease.deadline + ANSWER_RESERVE_MS) },
    );
    storedAt = record.version + 1;
  } catch (error) {
    if (error instanceof TokenConflictError) {
      // The record moved on during the Wix call (an AppInstalled, a reinstall, an uninstall, or a
      // taker-over after our lease ran out): the lease, if still ours, must not outlive us.
      await releaseLeaseQuietly(deps.store, key, owner);
      if (error.reason === ConflictReason.Uninstalled || error.current?.status === InstanceStatus.Uninstalled) {
        throw new InstanceUninstalledError();
      }
      deps.logger.warn('minted token not stored: the record moved on', { ...key, reason: error.reason });
    } else if (error instanceof StoreUnavailableError) {
      deps.logger.warn('minted token not stored: the store is unavailable', { ...key, code: error.code });
      await releaseLeaseQuietly(deps.store, key, owner);
    } else {
      throw error;
    }
  }
  return remember(deps, minted, 'wix', false, storedAt);
}

async function waitForHolder(deps: MintDeps, key: InstanceKey, sinceVersion: number, deadline: number): Promise<InstanceRecord | undefined> {
  // A lease's length, one poll and one slow read: room to watch a dead holder's lease run out.
  const timeoutMs = Math.min(deps.leaseWaitMs ?? DEFAULT_LEASE_TTL_MS + 2000, deadline - deps.now());
  if (timeoutMs <= 0) throw new TokenUnavailableError('no time left to wait for the token being minted');
  try {
    return await deps.store.waitForRelease(key, { sinceVersion, timeoutMs, intervalMs: deps.leasePollMs ?? 100 });
  } catch (error) {
    if (error instanceof LeaseWaitTimeoutError) throw new TokenUnavailableError('the token being minted did not arrive in time');
    throw error;
  }
}

function refuseIfGone(record: Pick<InstanceStatusView, 'status' | 'lastError'>, now: number): void {
  if (record.status === InstanceStatus.Uninstalled) throw new InstanceUninstalledError();
  const lastError = record.lastError;
  if (
    record.status === InstanceStatus.NeedsReauth &&
    lastError?.kind === WixErrorKind.GrantInvalid &&
    now - lastError.at < REJECTION_COOLDOWN_MS
  ) {
    // Whatever token is stored was issued before the refusal and is most likely dead too.
    throw new WixRejectedError('Wix refused this instance moments ago');
  }
}

async function remember(
  deps: MintDeps,
  record: InstanceRecord,
  source: MintSource,
  touch: boolean,
  /** The version the token is stored at: the record's own unless the caller knows better. */
  version: number | undefined = record.version,
): Promise<MintResult & { source: MintSource }> {
  const key = { appId: record.appId, instanceId: record.instanceId };
  const accessToken = record.accessToken as string;
  const expiresAt = record.accessTokenExpiresAt as number;
  if (touch) await touchQuietly(deps, key);
  const entry: CacheEntry = { accessToken, expiresAt, checkedAt: deps.now(), version };
  deps.cache.set(`${key.appId}#${key.instanceId}`, entry);
  return { ...key, accessToken, expiresAt, source };
}

/** Records use for the sweep; a store outage must not fail a mint that has its token. */
async function touchQuietly(deps: MintDeps, key: InstanceKey): Promise<void> {
  try {
    await deps.store.touchLastUsed(key, deps.now());
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    deps.logger.warn('could not record use of the instance', { ...key, code: error.code });
  }
}

function codeOf(error: unknown): string | undefined {
  return typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
}
