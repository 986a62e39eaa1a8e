import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { throughSdk } from '../../../support/sdk-secrets-client';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import {
  AppSecretMalformedError,
  createAppSecretsProvider,
  SecretsUnavailableError,
  UnknownAppError,
  type AppSecretsProviderDeps,
} from '../../../../lib/secrets';

const APP_ID = '11111111-1111-4111-8111-111111111111';
const SECRET_ID = 'wix-token-service/apps/11111111';
const MINUTE = 60_000;

const demo = demoAppSecret(APP_ID);
/** The same secret with another app secret, as after a rotation. */
const rotated = JSON.stringify({ ...JSON.parse(demo.secretString), appSecret: 'rotated-app-secret-value' });

function setup(overrides: Partial<AppSecretsProviderDeps> = {}) {
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  const sm = mockClient(client);
  const clock = { t: 1_700_000_000_000 };
  const warn = jest.fn();
  const provider = createAppSecretsProvider({
    client: throughSdk(client),
    secretIdFor: (appId) => (appId === APP_ID ? SECRET_ID : undefined),
    now: () => clock.t,
    logger: { warn },
    ...overrides,
  });
  const getCalls = (stage = 'AWSCURRENT') =>
    sm.commandCalls(GetSecretValueCommand).filter((call) => (call.args[0].input.VersionStage ?? 'AWSCURRENT') === stage).length;
  /** Moves the clock on by `ms`, then reads the app's current secret. */
  const getAfter = (ms: number) => {
    clock.t += ms;
    return provider.get(APP_ID);
  };
  return { sm, clock, warn, provider, getCalls, getAfter };
}

function current(secretString: string, versionId = 'v1') {
  return { Name: SECRET_ID, SecretString: secretString, VersionId: versionId, VersionStages: ['AWSCURRENT'] };
}

function throttled(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
}

describe('createAppSecretsProvider', () => {
  describe('get', () => {
    it('returns the parsed credentials with their version id', async () => {
      const { sm, provider } = setup();
      sm.on(GetSecretValueCommand).resolves(current(demo.secretString, 'v1'));

      const credentials = await provider.get(APP_ID);

      expect(credentials).toEqual({
        appId: APP_ID,
        appSecret: demo.appSecret,
        webhookPublicKey: demo.webhookPublicKey,
        tokenKeys: demo.tokenKeys,
        versionId: 'v1',
      });
      expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET_ID, VersionStage: 'AWSCURRENT' });
    });

    it('calls Secrets Manager once within the TTL and again after it', async () => {
      const { sm, provider, getCalls, getAfter } = setup();
      sm.on(GetSecretValueCommand).resolves(current(demo.secretString));

      await provider.get(APP_ID);
      await getAfter(5 * MINUTE - 1);
      expect(getCalls()).toBe(1);

      await getAfter(1);
      expect(getCalls()).toBe(2);
    });

    it('honours a custom TTL', async () => {
      const { sm, provider, getCalls, getAfter } = setup({ ttlMs: 1_000 });
      sm.on(GetSecretValueCommand).resolves(current(demo.secretString));

      await provider.get(APP_ID);
      await getAfter(1_000);

      expect(getCalls()).toBe(2);
    });

    it('shares one call among ten concurrent cold callers', async () => {
      const { sm, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand).resolves(current(demo.secretString));

      const results = await Promise.all(Array.from({ length: 10 }, () => provider.get(APP_ID)));

      expect(getCalls()).toBe(1);
      expect(new Set(results).size).toBe(1);
      expect(results[0]?.appSecret).toBe(demo.appSecret);
    });

    it('shares one call among concurrent callers when the TTL has passed', async () => {
      const { sm, clock, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand).resolvesOnce(current(demo.secretString, 'v1')).resolves(current(rotated, 'v2'));
      await provider.get(APP_ID);
      clock.t += 6 * MINUTE;

      const results = await Promise.all(Array.from({ length: 5 }, () => provider.get(APP_ID)));

      expect(getCalls()).toBe(2);
      expect(results.map((credentials) => credentials.versionId)).toEqual(['v2', 'v2', 'v2', 'v2', 'v2']);
    });

    it('serves the cached value, and warns without the secret, when a refresh fails after the TTL', async () => {
      const { sm, clock, warn, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand).resolvesOnce(current(demo.secretString)).rejects(throttled());
      await provider.get(APP_ID);
      clock.t += 6 * MINUTE;

      const credentials = await provider.get(APP_ID);

      expect(credentials.appSecret).toBe(demo.appSecret);
      expect(getCalls()).toBe(2);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(
        'Serving cached app credentials: refreshing them from Secrets Manager failed',
        expect.objectContaining({ appId: APP_ID, ageMs: 6 * MINUTE, errorCode: 'SECRETS_UNAVAILABLE' }),
      );
      const logged = JSON.stringify(warn.mock.calls);
      expect(logged).not.toContain(demo.appSecret);
      expect(logged).not.toContain(demo.tokenKeys.keys.k1);
    });

    it('waits the failure backoff before asking a failing Secrets Manager again', async () => {
      const { sm, provider, getCalls, getAfter } = setup({ failureBackoffMs: 30_000 });
      sm.on(GetSecretValueCommand).resolvesOnce(current(demo.secretString)).rejects(throttled());
      await provider.get(APP_ID);
      await getAfter(6 * MINUTE);

      await getAfter(29_999);
      expect(getCalls()).toBe(2);

      await getAfter(1);
      expect(getCalls()).toBe(3);
    });

    it('goes back to the TTL once Secrets Manager recovers', async () => {
      const { sm, clock, provider, getCalls, getAfter } = setup();
      sm.on(GetSecretValueCommand)
        .resolvesOnce(current(demo.secretString, 'v1'))
        .rejectsOnce(throttled())
        .resolves(current(rotated, 'v2'));
      await provider.get(APP_ID);
      await getAfter(6 * MINUTE);
      clock.t += MINUTE;

      const recovered = await provider.get(APP_ID);
      await getAfter(4 * MINUTE);

      expect(recovered.versionId).toBe('v2');
      expect(getCalls()).toBe(3);
    });

    it('throws SecretsUnavailableError once the cached value is older than maxStaleMs', async () => {
      const { sm, clock, provider } = setup({ maxStaleMs: 60 * MINUTE });
      const failure = throttled();
      sm.on(GetSecretValueCommand).resolvesOnce(current(demo.secretString)).rejects(failure);
      await provider.get(APP_ID);
      clock.t += 60 * MINUTE;
      await expect(provider.get(APP_ID)).resolves.toMatchObject({ appSecret: demo.appSecret });

      clock.t += 1;
      const error = await provider.get(APP_ID).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(SecretsUnavailableError);
      expect(error).toMatchObject({ code: 'SECRETS_UNAVAILABLE', awsErrorName: 'ThrottlingException', cause: failure });
    });

    it('serves the cached value when the new version of the secret is malformed', async () => {
      const { sm, clock, warn, provider } = setup();
      sm.on(GetSecretValueCommand)
        .resolvesOnce(current(demo.secretString, 'v1'))
        .resolves(current(JSON.stringify({ ...JSON.parse(demo.secretString), appSecret: '' }), 'v2'));
      await provider.get(APP_ID);
      clock.t += 6 * MINUTE;

      const credentials = await provider.get(APP_ID);

      expect(credentials.versionId).toBe('v1');
      expect(warn).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ errorCode: 'APP_SECRET_MALFORMED' }));
    });

    it('throws a typed SecretsUnavailableError on a cold failure, and retries on the next call', async () => {
      const { sm, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand)
        .rejectsOnce(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }))
        .resolves(current(demo.secretString));

      const error = await provider.get(APP_ID).catch((caught: unknown) => caught);
      const retried = await provider.get(APP_ID);

      expect(error).toBeInstanceOf(SecretsUnavailableError);
      expect(error).toMatchObject({
        code: 'SECRETS_UNAVAILABLE',
        name: 'SecretsUnavailableError',
        appId: APP_ID,
        awsErrorName: 'ResourceNotFoundException',
        message: `App credentials for ${APP_ID} could not be read from Secrets Manager (ResourceNotFoundException)`,
      });
      expect(retried.appSecret).toBe(demo.appSecret);
      expect(getCalls()).toBe(2);
    });

    it('rejects every concurrent cold caller with the same typed error', async () => {
      const { sm, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand).rejects(throttled());

      const results = await Promise.allSettled(Array.from({ length: 3 }, () => provider.get(APP_ID)));

      expect(getCalls()).toBe(1);
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(SecretsUnavailableError);
      }
    });

    it('throws AppSecretMalformedError without the secret value for malformed secret JSON', async () => {
      const { sm, provider } = setup();
      const leaky = `{"appId": "${APP_ID}", "appSecret": "${demo.appSecret}",`;
      sm.on(GetSecretValueCommand).resolves(current(leaky));

      const error = await provider.get(APP_ID).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(AppSecretMalformedError);
      expect(error).toMatchObject({ code: 'APP_SECRET_MALFORMED', field: 'SecretString' });
      expect(`${(error as Error).message} ${JSON.stringify(error)}`).not.toContain(demo.appSecret);
    });

    it('throws UnknownAppError for an app this deployment does not serve, without calling Secrets Manager', async () => {
      const { sm, provider } = setup();

      const error = await provider.get('99999999-9999-4999-8999-999999999999').catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(UnknownAppError);
      expect(error).toMatchObject({ code: 'UNKNOWN_APP', appId: '99999999-9999-4999-8999-999999999999' });
      expect(sm.calls()).toHaveLength(0);
    });

    it('refetches after invalidate even within the TTL', async () => {
      const { sm, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand).resolvesOnce(current(demo.secretString, 'v1')).resolves(current(rotated, 'v2'));
      await provider.get(APP_ID);

      provider.invalidate(APP_ID);
      const credentials = await provider.get(APP_ID);
      await provider.get(APP_ID);

      expect(credentials.versionId).toBe('v2');
      expect(getCalls()).toBe(2);
    });

    it('keeps the invalidated value as a stale fallback', async () => {
      const { sm, provider } = setup();
      sm.on(GetSecretValueCommand).resolvesOnce(current(demo.secretString, 'v1')).rejects(throttled());
      await provider.get(APP_ID);

      provider.invalidate(APP_ID);

      await expect(provider.get(APP_ID)).resolves.toMatchObject({ versionId: 'v1' });
    });

    it('rechecks a fresh value at most once per recheck interval', async () => {
      const { sm, clock, provider, getCalls } = setup({ recheckIntervalMs: 10_000 });
      sm.on(GetSecretValueCommand).resolvesOnce(current(demo.secretString, 'v1')).resolves(current(rotated, 'v2'));
      await provider.get(APP_ID);

      const rechecked = await provider.get(APP_ID, { recheck: true });
      clock.t += 9_999;
      await provider.get(APP_ID, { recheck: true });
      expect(getCalls()).toBe(2);

      clock.t += 1;
      await provider.get(APP_ID, { recheck: true });
      expect(getCalls()).toBe(3);
      expect(rechecked.versionId).toBe('v2');
    });
  });

  describe('getPrevious', () => {
    it('returns AWSPREVIOUS, fetched once per current version', async () => {
      const { sm, clock, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' })
        .resolvesOnce(current(rotated, 'v2'))
        .resolves(current(demo.secretString, 'v3'));
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' })
        .resolvesOnce({ ...current(demo.secretString, 'v1'), VersionStages: ['AWSPREVIOUS'] })
        .resolves({ ...current(rotated, 'v2'), VersionStages: ['AWSPREVIOUS'] });

      const first = await provider.getPrevious(APP_ID);
      const again = await provider.getPrevious(APP_ID);
      expect(getCalls('AWSPREVIOUS')).toBe(1);

      clock.t += 6 * MINUTE;
      const afterRotation = await provider.getPrevious(APP_ID);

      expect(first).toMatchObject({ appSecret: demo.appSecret, versionId: 'v1' });
      expect(again).toBe(first);
      expect(afterRotation).toMatchObject({ appSecret: 'rotated-app-secret-value', versionId: 'v2' });
      expect(getCalls('AWSPREVIOUS')).toBe(2);
    });

    it('returns undefined, and remembers it, when the secret has no previous version', async () => {
      const { sm, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves(current(demo.secretString));
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS", $metadata: {} }),
      );

      await expect(provider.getPrevious(APP_ID)).resolves.toBeUndefined();
      await expect(provider.getPrevious(APP_ID)).resolves.toBeUndefined();

      expect(getCalls('AWSPREVIOUS')).toBe(1);
    });

    it('throws SecretsUnavailableError when Secrets Manager fails, and retries on the next call', async () => {
      const { sm, provider, getCalls } = setup();
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves(current(rotated, 'v2'));
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' })
        .rejectsOnce(throttled())
        .resolves({ ...current(demo.secretString, 'v1'), VersionStages: ['AWSPREVIOUS'] });

      await expect(provider.getPrevious(APP_ID)).rejects.toBeInstanceOf(SecretsUnavailableError);
      await expect(provider.getPrevious(APP_ID)).resolves.toMatchObject({ versionId: 'v1' });

      expect(getCalls('AWSPREVIOUS')).toBe(2);
    });

    it('ignores a malformed previous version with a warning', async () => {
      const { sm, warn, provider } = setup();
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves(current(rotated, 'v2'));
      sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves({ ...current('{"appId": 1}', 'v1'), VersionStages: ['AWSPREVIOUS'] });

      await expect(provider.getPrevious(APP_ID)).resolves.toBeUndefined();

      expect(warn).toHaveBeenCalledWith('Ignoring the previous app secret: it is malformed', expect.objectContaining({ errorCode: 'APP_SECRET_MALFORMED' }));
    });

    it('throws UnknownAppError for an app this deployment does not serve', async () => {
      const { provider } = setup();

      await expect(provider.getPrevious('not-served')).rejects.toBeInstanceOf(UnknownAppError);
    });
  });
});
