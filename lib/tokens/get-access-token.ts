import { SecretsUnavailableError, AppSecretMalformedError, UnknownAppError, withAppCredentials, type AppSecretsProvider } from '../secrets';
import {
  InstanceStatus,
  LeaseWaitTimeoutError,
  shouldTouchLastUsed,
  StoreUnavailableError,
  TokenConflictError,
  type InstanceKey,
  type InstanceRecord,
  type TokenStore,
} from '../store';
import { WixErrorKind, WixOAuthError, type WixClient } from '../wix';
import {
  InstanceUninstalledError,
  InvalidRequestError,
  ServiceUnavailableError,
  WixRejectedError,
  WixUnavailableInvokeError,
} from './errors';
import type { MintRequest } from './mint-request';
import { recordGrantFailure } from './grant-failure';
import { isUsable, nextRefreshDueAt, REJECTION_COOLDOWN_MS } from './refresh-policy';
import type { CachedToken, TokenCache } from './token-cache';

/** The narrow logger the use case needs; attributes never carry a token. */
export interface MintLogger {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

export interface MintDeps {
  store: TokenStore;
  wix: Pick<WixClient, 'createAccessToken'>;
  secrets: AppSecretsProvider;
  cache: TokenCache;
  now: () => number;
  random: () => number;
  /** A fresh lease owner id per attempt. */
  newLeaseOwner: () => string;
  logger: MintLogger;
  /** How long a waiter polls for another caller's mint, at most (the deadline may cut it shorter). */
  leaseWaitMs?: number;
  leasePollMs?: number;
  /** How often a warm container records use of an instance it serves from memory. Default 10 min. */
  touchIntervalMs?: number;
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

interface CacheEntry extends CachedToken {
  /** When this container last recorded use of the instance, epoch ms. */
  touchedAt: number;
}

const MAX_LEASE_ROUNDS = 3;

/**
 * Returns an access token for one app instance: from this container's memory, else from the
 * store, else minted with client credentials, with one Wix call per instance across containers
 * (the store's lease; the others wait for the holder's result).
 *
 * @throws {InstanceUninstalledError} the app was removed from the instance
 * @throws {WixRejectedError} Wix refused the instance or the app's credentials
 * @throws {WixUnavailableInvokeError} Wix failed within the deadline and nothing valid was stored
 * @throws {ServiceUnavailableError} the store or the app's secrets could not be read
 */
export async function getAccessToken(
  deps: MintDeps,
  request: MintRequest,
  options: { deadline: number },
): Promise<MintResult & { source: MintSource }> {
  try {
    return await mint(deps, request, options.deadline);
  } catch (error) {
    throw toInvokeError(error);
  }
}

async function mint(deps: MintDeps, request: MintRequest, deadline: number): Promise<MintResult & { source: MintSource }> {
  const key: InstanceKey = { appId: request.appId, instanceId: request.instanceId };
  const cacheKey = `${key.appId}#${key.instanceId}`;
  const touchIntervalMs = deps.touchIntervalMs ?? 10 * 60_000;

  const cached = deps.cache.get(cacheKey) as CacheEntry | undefined;
  if (cached && isUsable(cached.expiresAt, deps.now(), request.minValidityMs)) {
    if (deps.now() - cached.touchedAt >= touchIntervalMs) {
      await deps.store.touchLastUsed(key, deps.now());
      cached.touchedAt = deps.now();
    }
    return { ...key, accessToken: cached.accessToken, expiresAt: cached.expiresAt, source: 'memory' };
  }

  const stored = await deps.store.getInstance(key);
  if (stored) {
    refuseIfGone(stored, deps.now());
    if (stored.accessToken && isUsable(stored.accessTokenExpiresAt, deps.now(), request.minValidityMs)) {
      return remember(deps, stored, 'store', shouldTouchLastUsed(stored, deps.now()));
    }
  }

  for (let round = 1; round <= MAX_LEASE_ROUNDS; round++) {
    const owner = deps.newLeaseOwner();
    const lease = await deps.store.acquireLease(key, { owner, createIfMissing: true });
    if (!lease.acquired) {
      if (lease.reason === 'uninstalled') throw new InstanceUninstalledError();
      if (lease.reason === 'not_found') throw new ServiceUnavailableError('the instance record could not be created');
      const settled = await waitForHolder(deps, key, lease.record.version, deadline);
      if (settled) {
        refuseIfGone(settled, deps.now());
        if (settled.accessToken && isUsable(settled.accessTokenExpiresAt, deps.now(), request.minValidityMs)) {
          return remember(deps, settled, 'waited', true);
        }
      }
      continue;
    }

    const record = lease.record;
    // Someone may have minted between our read and the lease: use theirs.
    if (record.accessToken && isUsable(record.accessTokenExpiresAt, deps.now(), request.minValidityMs)) {
      await deps.store.releaseLease(key, owner);
      return remember(deps, record, 'store', true);
    }
    return await mintUnderLease(deps, key, record, owner, deadline);
  }
  throw new WixUnavailableInvokeError('another caller holds this instance and has not produced a token yet');
}

/** The lease holder's path: one Wix call, then one conditional write that also frees the lease. */
async function mintUnderLease(
  deps: MintDeps,
  key: InstanceKey,
  record: InstanceRecord,
  owner: string,
  deadline: number,
): Promise<MintResult & { source: MintSource }> {
  let token;
  try {
    token = await withAppCredentials(deps.secrets, key.appId, (credentials) =>
      deps.wix.createAccessToken(credentials, key.instanceId, { deadline }),
    );
  } catch (error) {
    await recordGrantFailure(deps, key, record, owner, error);
    const stillValid = record.accessToken && isUsable(record.accessTokenExpiresAt, deps.now(), 0);
    if (error instanceof WixOAuthError && error.kind === WixErrorKind.Transient && stillValid) {
      deps.logger.warn('Wix unavailable; serving the stored token', { ...key, code: error.code, requestId: error.requestId });
      return remember(deps, record, 'stale', false);
    }
    throw error;
  }

  const minted = { ...record, accessToken: token.accessToken, accessTokenExpiresAt: token.expiresAt, lastUsedAt: deps.now() };
  try {
    await deps.store.storeLeasedTokens(key, {
      owner,
      expectedVersion: record.version,
      accessToken: token.accessToken,
      accessTokenExpiresAt: token.expiresAt,
      refreshDueAt: nextRefreshDueAt(minted, { grant: 'client_credentials', grantKind: record.grantKind, expiresAt: token.expiresAt }, deps.now()),
      lastUsedAt: minted.lastUsedAt,
    });
  } catch (error) {
    // The token is good whether or not it was stored; the next cold container will mint again.
    if (!(error instanceof TokenConflictError)) throw error;
    deps.logger.warn('minted token not stored: the lease was lost', { ...key, reason: error.reason });
  }
  return remember(deps, minted, 'wix', false);
}

async function waitForHolder(deps: MintDeps, key: InstanceKey, sinceVersion: number, deadline: number): Promise<InstanceRecord | undefined> {
  const timeoutMs = Math.min(deps.leaseWaitMs ?? 8000, deadline - deps.now());
  if (timeoutMs <= 0) throw new WixUnavailableInvokeError('no time left to wait for the token being minted');
  try {
    return await deps.store.waitForRelease(key, { sinceVersion, timeoutMs, intervalMs: deps.leasePollMs ?? 100 });
  } catch (error) {
    if (error instanceof LeaseWaitTimeoutError) throw new WixUnavailableInvokeError('the token being minted did not arrive in time');
    throw error;
  }
}

function refuseIfGone(record: InstanceRecord, now: number): void {
  if (record.status === InstanceStatus.Uninstalled) throw new InstanceUninstalledError();
  const lastError = record.lastError;
  if (
    record.status === InstanceStatus.NeedsReauth &&
    lastError?.kind === WixErrorKind.GrantInvalid &&
    now - lastError.at < REJECTION_COOLDOWN_MS &&
    !isUsable(record.accessTokenExpiresAt, now, 0)
  ) {
    throw new WixRejectedError('Wix refused this instance moments ago');
  }
}

async function remember(
  deps: MintDeps,
  record: InstanceRecord,
  source: MintSource,
  touch: boolean,
): Promise<MintResult & { source: MintSource }> {
  const key = { appId: record.appId, instanceId: record.instanceId };
  const accessToken = record.accessToken as string;
  const expiresAt = record.accessTokenExpiresAt as number;
  if (touch) await deps.store.touchLastUsed(key, deps.now());
  const entry: CacheEntry = { accessToken, expiresAt, touchedAt: deps.now() };
  deps.cache.set(`${key.appId}#${key.instanceId}`, entry);
  return { ...key, accessToken, expiresAt, source };
}

function toInvokeError(error: unknown): Error {
  if (error instanceof WixOAuthError) {
    switch (error.kind) {
      case WixErrorKind.Transient:
        return new WixUnavailableInvokeError(`Wix did not answer in time (${error.code})`, { cause: error });
      case WixErrorKind.GrantInvalid:
        return new WixRejectedError('Wix refused to issue a token for this instance', { cause: error });
      case WixErrorKind.CredentialsRejected:
        return new WixRejectedError("Wix refused the app's credentials", { cause: error });
      case WixErrorKind.BadRequest:
        return new WixRejectedError('Wix refused the token request', { cause: error });
    }
  }
  if (error instanceof UnknownAppError) return new InvalidRequestError('appId', 'is not an app this deployment serves');
  if (error instanceof StoreUnavailableError || error instanceof SecretsUnavailableError || error instanceof AppSecretMalformedError) {
    return new ServiceUnavailableError(`a dependency is unavailable (${error.code})`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
