import { systemClock, type Clock } from '../runtime/clock';

import type { ServiceLogger } from '../runtime/logger';
import { parseAppSecret, type AppCredentials } from './app-secret';
import { GetSecretValueCommand, type SecretValueSource } from './secrets-manager';
import { AppSecretMalformedError, SecretsUnavailableError, UnknownAppError } from './errors';

/** Options for {@link AppSecretsProvider.get}. */
export interface GetCredentialsOptions {
  /**
   * Ask Secrets Manager again even though the cached value is fresh, because Wix just refused it
   * (the secret may have been rotated after this container cached it). Throttled per app to one
   * recheck per `recheckIntervalMs`; inside that window the cached value is returned, so a wrong
   * secret under load cannot put Secrets Manager on the request path.
   */
  recheck?: boolean;
}

/** App credentials, cached per container so Secrets Manager stays off the per-request path. */
export interface AppSecretsProvider {
  /**
   * The AWSCURRENT credentials of an app.
   *
   * Cached per container: at most one GetSecretValue per secret per `ttlMs` in steady state, and
   * concurrent callers share one call. When a refresh fails (Secrets Manager down, or a malformed
   * new version) and a cached value is younger than `maxStaleMs`, that value is served, a warning
   * is logged, and the next attempt waits `failureBackoffMs`.
   *
   * @throws {UnknownAppError} when this deployment does not serve `appId`.
   * @throws {SecretsUnavailableError} when Secrets Manager fails and nothing usable is cached.
   * @throws {AppSecretMalformedError} when the secret is not valid and nothing usable is cached.
   */
  get(appId: string, options?: GetCredentialsOptions): Promise<AppCredentials>;
  /**
   * The AWSPREVIOUS credentials, or undefined when the secret has no previous version (or it is
   * unusable, which is logged). Fetched at most once per current version; used after Wix answers
   * invalid_client, so that rotating the app secret causes no outage.
   *
   * @throws {UnknownAppError} when this deployment does not serve `appId`.
   * @throws {SecretsUnavailableError} when Secrets Manager fails (not cached: the next call retries).
   */
  getPrevious(appId: string): Promise<AppCredentials | undefined>;
  /** Forces the next get() to refetch (e.g. after invalid_client with both versions); the old value stays as a stale fallback. */
  invalidate(appId: string): void;
}

/** What {@link createAppSecretsProvider} needs. */
export interface AppSecretsProviderDeps {
  client: SecretValueSource;
  /** The secret name or ARN that holds an app's credentials; undefined for an app this deployment does not serve. */
  secretIdFor: (appId: string) => string | undefined;
  now?: Clock['now'];
  /** How long a fetched value is fresh. Default 5 minutes. */
  ttlMs?: number;
  /** How old a cached value may grow while refreshes fail before get() throws. Default 1 hour. */
  maxStaleMs?: number;
  /** After a failed refresh, how long the stale value is served before the next attempt. Default 30 seconds. */
  failureBackoffMs?: number;
  /** The minimum time between two `recheck` fetches of one app. Default 10 seconds. */
  recheckIntervalMs?: number;
  /** Attributes never carry a secret. */
  logger?: Pick<ServiceLogger, 'warn'>;
}

const DEFAULT_TTL_MS = 5 * 60_000;
const DEFAULT_MAX_STALE_MS = 60 * 60_000;
const DEFAULT_FAILURE_BACKOFF_MS = 30_000;
const DEFAULT_RECHECK_INTERVAL_MS = 10_000;

interface CacheEntry {
  readonly secretId: string;
  value?: AppCredentials;
  /** When `value` was fetched. */
  fetchedAt: number;
  /** Until when `value` is served without asking Secrets Manager. */
  freshUntil: number;
  lastRecheckAt: number;
  inflight?: Promise<AppCredentials>;
  /** AWSPREVIOUS, keyed by the version id of the current value it was fetched for. */
  previous?: { forVersion: string; result: Promise<AppCredentials | undefined> };
}

/**
 * Builds the per-container credentials cache over a Secrets Manager client.
 *
 * ```
 *   get() ──fresh?──────────────────────────────▶ cached value
 *     │ stale, invalidated, or recheck allowed
 *     ▼
 *   GetSecretValue (shared by concurrent callers)
 *     ├─ ok ────────────────────────────────────▶ new value, fresh for ttlMs
 *     └─ fails ─ cached value younger than maxStaleMs?
 *                  ├─ yes ─ warn, serve it, retry after failureBackoffMs
 *                  └─ no ── throw SecretsUnavailableError / AppSecretMalformedError
 * ```
 */
export function createAppSecretsProvider(deps: AppSecretsProviderDeps): AppSecretsProvider {
  const now = deps.now ?? systemClock.now;
  const ttlMs = deps.ttlMs ?? DEFAULT_TTL_MS;
  const maxStaleMs = deps.maxStaleMs ?? DEFAULT_MAX_STALE_MS;
  const failureBackoffMs = deps.failureBackoffMs ?? DEFAULT_FAILURE_BACKOFF_MS;
  const recheckIntervalMs = deps.recheckIntervalMs ?? DEFAULT_RECHECK_INTERVAL_MS;
  const entries = new Map<string, CacheEntry>();

  function entryFor(appId: string): CacheEntry {
    const existing = entries.get(appId);
    if (existing) return existing;
    const secretId = deps.secretIdFor(appId);
    if (secretId === undefined) throw new UnknownAppError(appId);
    const entry: CacheEntry = { secretId, fetchedAt: 0, freshUntil: -Infinity, lastRecheckAt: -Infinity };
    entries.set(appId, entry);
    return entry;
  }

  async function fetchVersion(
    appId: string,
    secretId: string,
    versionStage: 'AWSCURRENT' | 'AWSPREVIOUS',
  ): Promise<AppCredentials> {
    let response;
    try {
      response = await deps.client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: versionStage }));
    } catch (error) {
      throw new SecretsUnavailableError(appId, error);
    }
    const parsed = parseAppSecret(response.SecretString, appId, versionStage);
    const credentials = response.VersionId === undefined ? parsed : { ...parsed, versionId: response.VersionId };
    return Object.freeze(credentials);
  }

  async function refresh(appId: string, entry: CacheEntry): Promise<AppCredentials> {
    try {
      const credentials = await fetchVersion(appId, entry.secretId, 'AWSCURRENT');
      entry.value = credentials;
      entry.fetchedAt = now();
      entry.freshUntil = entry.fetchedAt + ttlMs;
      return credentials;
    } catch (error) {
      if (!(error instanceof SecretsUnavailableError || error instanceof AppSecretMalformedError)) throw error;
      const at = now();
      const cached = entry.value;
      if (cached === undefined || at - entry.fetchedAt > maxStaleMs) throw error;
      entry.freshUntil = Math.min(at + failureBackoffMs, entry.fetchedAt + maxStaleMs);
      deps.logger?.warn('Serving cached app credentials: refreshing them from Secrets Manager failed', {
        appId,
        ageMs: at - entry.fetchedAt,
        retryInMs: entry.freshUntil - at,
        errorCode: error.code,
        errorMessage: error.message,
      });
      return cached;
    }
  }

  function get(appId: string, options?: GetCredentialsOptions): Promise<AppCredentials> {
    let entry: CacheEntry;
    try {
      entry = entryFor(appId);
    } catch (error) {
      return Promise.reject(error);
    }
    if (entry.inflight) return entry.inflight;

    const at = now();
    const recheck = options?.recheck === true && entry.value !== undefined && at - entry.lastRecheckAt >= recheckIntervalMs;
    if (recheck) entry.lastRecheckAt = at;
    else if (entry.value !== undefined && at < entry.freshUntil) return Promise.resolve(entry.value);

    const inflight: Promise<AppCredentials> = refresh(appId, entry).finally(() => {
      if (entry.inflight === inflight) entry.inflight = undefined;
    });
    entry.inflight = inflight;
    return inflight;
  }

  async function fetchPrevious(appId: string, entry: CacheEntry): Promise<AppCredentials | undefined> {
    try {
      return await fetchVersion(appId, entry.secretId, 'AWSPREVIOUS');
    } catch (error) {
      // A secret with a single version has no AWSPREVIOUS label: that is an answer, not a failure.
      if (error instanceof SecretsUnavailableError && error.awsErrorName === 'ResourceNotFoundException') return undefined;
      if (error instanceof AppSecretMalformedError) {
        deps.logger?.warn('Ignoring the previous app secret: it is malformed', {
          appId,
          errorCode: error.code,
          errorMessage: error.message,
        });
        return undefined;
      }
      throw error;
    }
  }

  async function getPrevious(appId: string): Promise<AppCredentials | undefined> {
    const current = await get(appId);
    const entry = entryFor(appId);
    const forVersion = current.versionId ?? '';
    if (entry.previous?.forVersion === forVersion) return entry.previous.result;

    const result = fetchPrevious(appId, entry);
    const cached = { forVersion, result };
    entry.previous = cached;
    result.catch(() => {
      if (entry.previous === cached) entry.previous = undefined;
    });
    return result;
  }

  function invalidate(appId: string): void {
    const entry = entries.get(appId);
    if (entry) entry.freshUntil = -Infinity;
  }

  return { get, getPrevious, invalidate };
}
