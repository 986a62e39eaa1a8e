import { WixCredentialsRejectedError } from '../wix/errors';
import type { AppCredentials } from './app-secret';
import type { AppSecretsProvider } from './app-secrets-provider';
import { AppSecretMalformedError, SecretsUnavailableError } from './errors';

/**
 * Runs a Wix call with the app's credentials, riding out a rotation of the app secret.
 *
 * `call` first gets the cached AWSCURRENT. If Wix refuses it ({@link WixCredentialsRejectedError},
 * invalid_client), each of these is tried once, skipping any whose app secret was already tried:
 *
 * 1. AWSCURRENT fetched again (`recheck`): covers a container whose cache predates the rotation
 *    (the secret was changed in Wix and in Secrets Manager a moment ago). On success the cache
 *    holds the new value, so the next calls go straight through. Rechecks are throttled per
 *    app (see {@link GetCredentialsOptions.recheck}).
 * 2. AWSPREVIOUS of the newest current: covers Secrets Manager updated before Wix.
 *
 * So rotating in either order causes no outage, provided the secret in Secrets Manager is
 * updated (PutSecretValue, which moves the old value to AWSPREVIOUS) within a few seconds of the
 * change in Wix. If a fallback is refused too, the original error is rethrown; any other error
 * from a fallback (Wix unavailable, grant invalid) is the real answer and propagates. Failing to
 * read the fallback credentials from Secrets Manager also rethrows the original error.
 *
 * @throws {WixCredentialsRejectedError} the first refusal, when no version of the secret is accepted.
 * @throws {UnknownAppError} / {SecretsUnavailableError} / {AppSecretMalformedError} from the first get().
 */
export async function withAppCredentials<T>(
  provider: AppSecretsProvider,
  appId: string,
  call: (creds: AppCredentials) => Promise<T>,
): Promise<T> {
  const first = await provider.get(appId);
  let original: WixCredentialsRejectedError;
  try {
    return await call(first);
  } catch (error) {
    if (!(error instanceof WixCredentialsRejectedError)) throw error;
    original = error;
  }

  const triedSecrets = new Set([first.appSecret]);
  const fallbacks: Array<() => Promise<AppCredentials | undefined>> = [
    () => provider.get(appId, { recheck: true }),
    () => provider.getPrevious(appId),
  ];
  for (const fetchFallback of fallbacks) {
    let candidate: AppCredentials | undefined;
    try {
      candidate = await fetchFallback();
    } catch (error) {
      if (error instanceof SecretsUnavailableError || error instanceof AppSecretMalformedError) throw original;
      throw error;
    }
    if (candidate === undefined || triedSecrets.has(candidate.appSecret)) continue;
    triedSecrets.add(candidate.appSecret);
    try {
      return await call(candidate);
    } catch (error) {
      if (!(error instanceof WixCredentialsRejectedError)) throw error;
    }
  }
  throw original;
}
