import type { Clock } from '../runtime/clock';
import { tokenWriteEvents, type EventSink } from '../events';
import { withAppCredentials, type AppSecretsProvider } from '../secrets';
import { GrantKind, type InstanceKey, type InstanceRecord, type TokenStore, type WriteOptions } from '../store';
import type { AccessToken, WixClient } from '../wix';
import { nextRefreshDueAt } from './refresh-policy';

/** What a lease holder needs to mint with client credentials and write the result. */
export interface ClientCredentialsDeps {
  secrets: AppSecretsProvider;
  wix: Pick<WixClient, 'createAccessToken'>;
  store: Pick<TokenStore, 'storeLeasedTokens'>;
  now: Clock['now'];
  /** Lifecycle events (InstanceRecovered); none by default. */
  events?: EventSink;
}

/**
 * The lease holder's client-credentials grant and its one conditional write, shared by mint and
 * the sweep: the token is asked for with the app's credentials (riding out a secret rotation),
 * then stored with its next due time, releasing the lease in the same write.
 *
 * The two steps are separate so each caller decides what a failure of each means.
 */
export const leasedClientCredentials = {
  /**
   * One Wix call for the instance, ending by `deadline`.
   * @throws {WixOAuthError} and the secrets provider's errors, as they are
   */
  grant(deps: ClientCredentialsDeps, key: InstanceKey, deadline: number): Promise<AccessToken> {
    return withAppCredentials(deps.secrets, key.appId, (credentials) => deps.wix.createAccessToken(credentials, key.instanceId, { deadline }));
  },

  /**
   * Stores `token` under the lease taken at `record.version`.
   * @param extras.fellBack a legacy instance whose refresh token no longer works: it becomes a
   *   client-credentials instance
   * @returns the next due time written
   * @throws {TokenConflictError} / {StoreUnavailableError} from the store, as they are
   */
  async store(
    deps: ClientCredentialsDeps,
    key: InstanceKey,
    record: InstanceRecord,
    owner: string,
    token: AccessToken,
    extras: { lastUsedAt?: number; fellBack?: boolean } = {},
    options?: WriteOptions,
  ): Promise<number | null> {
    const grantKind = extras.fellBack ? GrantKind.ClientCredentials : record.grantKind;
    const planned = extras.lastUsedAt === undefined ? record : { ...record, lastUsedAt: extras.lastUsedAt };
    const refreshDueAt = nextRefreshDueAt(planned, { grant: 'client_credentials', grantKind, expiresAt: token.expiresAt }, deps.now());
    const stored = await deps.store.storeLeasedTokens(key, {
      owner,
      expectedVersion: record.version,
      accessToken: token.accessToken,
      accessTokenExpiresAt: token.expiresAt,
      refreshDueAt,
      ...(record.lastUsedAt === undefined ? {} : { lastUsedAtRead: record.lastUsedAt }),
      ...(extras.fellBack ? { grantKind } : {}),
      ...(extras.lastUsedAt === undefined ? {} : { lastUsedAt: extras.lastUsedAt }),
    }, options);
    if (deps.events !== undefined) await deps.events.emit(tokenWriteEvents(record, stored, deps.now(), deps.events.failingAfter));
    return refreshDueAt;
  },
};
