import { SecretsManagerClient } from '../../../../lib/secrets/secrets-manager';

import { demoAppSecret, type DemoAppSecret } from '../../../../infra/local/demo-app';
import { standInClientConfig, startSecretsManagerStandIn, type SecretsManagerStandIn } from '../../../../infra/local/secrets-manager-stand-in';
import { createTokenCipher, tokenContext } from '../../../../lib/crypto';
import {
  createAppSecretsProvider,
  SecretsUnavailableError,
  UnknownAppError,
  withAppCredentials,
  type AppCredentials,
  type AppSecretsProvider,
} from '../../../../lib/secrets';
import { WixCredentialsRejectedError } from '../../../../lib/wix/errors';

const APP_ID = '33333333-3333-4333-8333-333333333333';
const SECRET_NAME = `wix-token-service/apps/${APP_ID}`;
const MINUTE = 60_000;

describe('createAppSecretsProvider against the Secrets Manager stand-in', () => {
  let standIn: SecretsManagerStandIn;
  let client: SecretsManagerClient;
  let demo: DemoAppSecret;
  let clock: { t: number };
  let warn: jest.Mock;
  let provider: AppSecretsProvider;

  beforeEach(async () => {
    demo = demoAppSecret(APP_ID);
    standIn = await startSecretsManagerStandIn({ secrets: [{ name: SECRET_NAME, value: demo.secretString }] });
    client = new SecretsManagerClient({ ...standInClientConfig(standIn.url), maxAttempts: 1 });
    clock = { t: 1_700_000_000_000 };
    warn = jest.fn();
    provider = createAppSecretsProvider({
      client,
      secretIdFor: (appId) => (appId === APP_ID ? SECRET_NAME : undefined),
      now: () => clock.t,
      logger: { warn },
    });
  });

  afterEach(async () => {
    client.destroy();
    await standIn.stop();
  });

  function rotateTo(appSecret: string): void {
    standIn.putSecret(SECRET_NAME, JSON.stringify({ ...JSON.parse(demo.secretString), appSecret }));
  }

  function wixAccepting(appSecret: string) {
    return jest.fn(async (creds: AppCredentials) => {
      if (creds.appSecret !== appSecret) {
        throw new WixCredentialsRejectedError('invalid_client', { operation: 'client_credentials', status: 401, error: 'invalid_client' });
      }
      return 'access-token';
    });
  }

  it('reads the app credentials over the SDK and caches them for the TTL', async () => {
    const first = await provider.get(APP_ID);
    clock.t += 4 * MINUTE;
    await provider.get(APP_ID);

    expect(first).toMatchObject({ appId: APP_ID, appSecret: demo.appSecret, webhookPublicKey: demo.webhookPublicKey, tokenKeys: demo.tokenKeys });
    expect(first.versionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(standIn.calls.GetSecretValue).toBe(1);
  });

  it('decrypts, after a rotation of the token key, a token encrypted with the key ring it served before', async () => {
    const before = await provider.get(APP_ID);
    const envelope = createTokenCipher(before.tokenKeys).encrypt('refresh-token', tokenContext(APP_ID, 'instance-1'), 'refreshToken');
    standIn.putSecret(
      SECRET_NAME,
      JSON.stringify({ ...JSON.parse(demo.secretString), tokenKeys: { currentKeyId: 'k2', keys: { ...demo.tokenKeys.keys, k2: demo.tokenKeys.keys.k1 } } }),
    );
    clock.t += 6 * MINUTE;

    const after = await provider.get(APP_ID);

    expect(after.tokenKeys.currentKeyId).toBe('k2');
    expect(createTokenCipher(after.tokenKeys).decrypt(envelope, tokenContext(APP_ID, 'instance-1'), 'refreshToken')).toBe('refresh-token');
  });

  it('rides out an app secret rotation in Secrets Manager before Wix, and in Wix before this container saw it', async () => {
    // Secrets Manager updated first: Wix still takes the old secret, a cold container gets the new one.
    rotateTo('new-app-secret');
    const whileWixHasOld = wixAccepting(demo.appSecret);
    await expect(withAppCredentials(provider, APP_ID, whileWixHasOld)).resolves.toBe('access-token');
    expect(whileWixHasOld.mock.calls.map(([creds]) => creds.appSecret)).toEqual(['new-app-secret', demo.appSecret]);

    // Wix now takes only the new one; the cache already holds it.
    const afterWix = wixAccepting('new-app-secret');
    await expect(withAppCredentials(provider, APP_ID, afterWix)).resolves.toBe('access-token');
    expect(afterWix).toHaveBeenCalledTimes(1);
  });

  it('picks up a rotation made after it cached the secret without waiting for the TTL', async () => {
    await provider.get(APP_ID);
    rotateTo('new-app-secret');
    const wix = wixAccepting('new-app-secret');

    await expect(withAppCredentials(provider, APP_ID, wix)).resolves.toBe('access-token');

    expect(wix.mock.calls.map(([creds]) => creds.appSecret)).toEqual([demo.appSecret, 'new-app-secret']);
    expect(standIn.calls.GetSecretValue).toBe(2);
  });

  it('serves the cached credentials while Secrets Manager is down, until maxStaleMs', async () => {
    await provider.get(APP_ID);
    standIn.setUnavailable(true);

    clock.t += 6 * MINUTE;
    const stale = await provider.get(APP_ID);
    clock.t += 60 * MINUTE;
    const error = await provider.get(APP_ID).catch((caught: unknown) => caught);

    expect(stale.appSecret).toBe(demo.appSecret);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(error).toBeInstanceOf(SecretsUnavailableError);
    expect(error).toMatchObject({ awsErrorName: 'ServiceUnavailable' });
    expect(standIn.calls.GetSecretValue).toBe(3);
  });

  it('throws SecretsUnavailableError when the configured secret does not exist, and UnknownAppError for an app it does not serve', async () => {
    const missing = createAppSecretsProvider({ client, secretIdFor: () => 'no-such-secret' });

    await expect(missing.get(APP_ID)).rejects.toMatchObject({ name: 'SecretsUnavailableError', awsErrorName: 'ResourceNotFoundException' });
    await expect(provider.get('44444444-4444-4444-8444-444444444444')).rejects.toBeInstanceOf(UnknownAppError);
  });
});
