import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { throughSdk } from '../../../support/sdk-secrets-client';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { createAppSecretsProvider, withAppCredentials, type AppCredentials } from '../../../../lib/secrets';
import { WixCredentialsRejectedError, WixGrantInvalidError, WixUnavailableError } from '../../../../lib/wix/errors';

const APP_ID = '11111111-1111-4111-8111-111111111111';
const SECRET_ID = 'wix-token-service/apps/11111111';
const base = JSON.parse(demoAppSecret(APP_ID).secretString) as Record<string, unknown>;

function version(appSecret: string, versionId: string, stage: 'AWSCURRENT' | 'AWSPREVIOUS') {
  return { Name: SECRET_ID, SecretString: JSON.stringify({ ...base, appSecret }), VersionId: versionId, VersionStages: [stage] };
}

const noPrevious = () =>
  new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS", $metadata: {} });

function rejected(): WixCredentialsRejectedError {
  return new WixCredentialsRejectedError('Wix refused the app credentials (invalid_client)', { operation: 'client_credentials', status: 401, error: 'invalid_client' });
}

function setup() {
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  const sm = mockClient(client);
  const clock = { t: 1_700_000_000_000 };
  const provider = createAppSecretsProvider({ client: throughSdk(client), secretIdFor: () => SECRET_ID, now: () => clock.t });
  const smCalls = () => sm.commandCalls(GetSecretValueCommand).length;
  return { sm, clock, provider, smCalls };
}

/** Secrets Manager updated before Wix: AWSCURRENT holds the secret 'new' (v2), AWSPREVIOUS the secret 'old' (v1). */
function secretsManagerAheadOfWix(sm: ReturnType<typeof setup>['sm']): void {
  sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves(version('new', 'v2', 'AWSCURRENT'));
  sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves(version('old', 'v1', 'AWSPREVIOUS'));
}

/** A stand-in for a Wix call that accepts only the given app secrets and records what it was given. */
function wixAccepting(...accepted: string[]) {
  const tried: string[] = [];
  const call = async (creds: AppCredentials) => {
    tried.push(creds.appSecret);
    if (!accepted.includes(creds.appSecret)) throw rejected();
    return `token-for-${creds.appSecret}`;
  };
  return { call, tried };
}

describe('withAppCredentials', () => {
  it('runs the call once with the current credentials when Wix accepts them', async () => {
    const { sm, provider, smCalls } = setup();
    sm.on(GetSecretValueCommand).resolves(version('new', 'v2', 'AWSCURRENT'));
    const wix = wixAccepting('new');

    const result = await withAppCredentials(provider, APP_ID, wix.call);

    expect(result).toBe('token-for-new');
    expect(wix.tried).toEqual(['new']);
    expect(smCalls()).toBe(1);
  });

  // Secrets Manager was updated before the app secret was changed in Wix.
  it.each([
    { name: 'falls back to AWSPREVIOUS once when Wix rejects the current secret', callsBefore: 0 },
    { name: 'does not ask Secrets Manager again on the next call while the previous secret is the one Wix takes', callsBefore: 1 },
  ])('$name', async ({ callsBefore }) => {
    const { sm, provider, smCalls } = setup();
    secretsManagerAheadOfWix(sm);
    for (let i = 0; i < callsBefore; i += 1) await withAppCredentials(provider, APP_ID, wixAccepting('old').call);
    const wix = wixAccepting('old');

    const result = await withAppCredentials(provider, APP_ID, wix.call);

    expect(result).toBe('token-for-old');
    expect(wix.tried).toEqual(['new', 'old']);
    // AWSCURRENT, its recheck, AWSPREVIOUS: the first call's, and none more after it
    expect(smCalls()).toBe(3);
  });

  it('rethrows the original error when there is no previous version', async () => {
    const { sm, provider } = setup();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves(version('new', 'v1', 'AWSCURRENT'));
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(noPrevious());
    const original = rejected();
    const call = jest.fn().mockRejectedValue(original);

    await expect(withAppCredentials(provider, APP_ID, call)).rejects.toBe(original);
    expect(call).toHaveBeenCalledTimes(1);
  });

  it('rethrows the original error when the previous secret is rejected too', async () => {
    const { sm, provider } = setup();
    secretsManagerAheadOfWix(sm);
    const original = rejected();
    const call = jest.fn().mockRejectedValueOnce(original).mockRejectedValueOnce(rejected());

    await expect(withAppCredentials(provider, APP_ID, call)).rejects.toBe(original);
    expect(call.mock.calls.map(([creds]) => (creds as AppCredentials).appSecret)).toEqual(['new', 'old']);
  });

  it('does not retry with a previous version whose app secret is the same', async () => {
    // Only the token keys changed in the last PutSecretValue.
    const { sm, provider } = setup();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves(version('same', 'v2', 'AWSCURRENT'));
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves(version('same', 'v1', 'AWSPREVIOUS'));
    const wix = wixAccepting();

    await expect(withAppCredentials(provider, APP_ID, wix.call)).rejects.toBeInstanceOf(WixCredentialsRejectedError);
    expect(wix.tried).toEqual(['same']);
  });

  it('picks up a secret rotated after this container cached it, and keeps using it', async () => {
    // Arrange: cached v1 ("old"); then the secret is changed in Wix and in Secrets Manager.
    const { sm, provider, smCalls } = setup();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' })
      .resolvesOnce(version('old', 'v1', 'AWSCURRENT'))
      .resolves(version('new', 'v2', 'AWSCURRENT'));
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves(version('old', 'v1', 'AWSPREVIOUS'));
    await provider.get(APP_ID);
    const wix = wixAccepting('new');

    // Act
    const first = await withAppCredentials(provider, APP_ID, wix.call);
    const second = await withAppCredentials(provider, APP_ID, wix.call);

    // Assert: one recheck, no AWSPREVIOUS needed, and the second call goes straight through.
    expect(first).toBe('token-for-new');
    expect(second).toBe('token-for-new');
    expect(wix.tried).toEqual(['old', 'new', 'new']);
    expect(smCalls()).toBe(2);
  });

  it('lets a non-credentials error from the first call through without any fallback', async () => {
    const { sm, provider, smCalls } = setup();
    sm.on(GetSecretValueCommand).resolves(version('new', 'v2', 'AWSCURRENT'));
    const grantInvalid = new WixGrantInvalidError('The refresh token is no longer valid', { operation: 'refresh_token', status: 400, error: 'invalid_grant' });
    const call = jest.fn().mockRejectedValue(grantInvalid);

    await expect(withAppCredentials(provider, APP_ID, call)).rejects.toBe(grantInvalid);
    expect(call).toHaveBeenCalledTimes(1);
    expect(smCalls()).toBe(1);
  });

  it('lets a non-credentials error from a fallback through: it is the real answer for that secret', async () => {
    const { sm, provider } = setup();
    secretsManagerAheadOfWix(sm);
    const unavailable = new WixUnavailableError('WIX_UNAVAILABLE', 'Wix answered 503', { operation: 'client_credentials', status: 503 });
    const call = jest.fn().mockRejectedValueOnce(rejected()).mockRejectedValueOnce(unavailable);

    await expect(withAppCredentials(provider, APP_ID, call)).rejects.toBe(unavailable);
  });

  it('rethrows the original error when Secrets Manager fails while fetching the previous version', async () => {
    const { sm, provider } = setup();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves(version('new', 'v2', 'AWSCURRENT'));
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    const original = rejected();
    const call = jest.fn().mockRejectedValue(original);

    await expect(withAppCredentials(provider, APP_ID, call)).rejects.toBe(original);
    expect(call).toHaveBeenCalledTimes(1);
  });
});
