import { createHash, randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { SecretsUnavailableError } from '../../../../lib/secrets';
import {
  createMemoryInstallStateStore,
  createMemoryTokenStore,
  StaleEventError,
  StoreUnavailableError,
  TokenConflictError,
  type InstallTokens,
  type InstanceKey,
  type InstanceRecord,
} from '../../../../lib/store';
import { InvalidRequestError } from '../../../../lib/tokens/errors';
import { completeInstall, InstallNotConfirmedError, startInstall, type InstallDeps } from '../../../../lib/tokens/install';
import { InstallStateError, issueInstallState, verifyInstallState } from '../../../../lib/tokens/install-state';
import { legacyHealthDueAt } from '../../../../lib/tokens/refresh-policy';
import {
  WixGrantInvalidError,
  WixMalformedResponseError,
  WixUnavailableError,
  type LegacyTokens,
  type TokenInfo,
} from '../../../../lib/wix';
import { captureLogger, type CapturedLogger } from '../../../support/mint-fixture';
import { memorySecrets } from '../../../support/http-fixture';
import { testCipherFor } from '../../../support/token-cipher';
import { rejectionOf } from '../../../support/failures';

const app = demoAppSecret(randomUUID());
const second = demoAppSecret(randomUUID());
const T0 = Date.UTC(2030, 0, 1, 12);

/** In-memory stand-ins that record what the use case did, in order. */
function fakes(options: { exchange?: () => Promise<LegacyTokens>; tokenInfo?: (token: string) => Promise<TokenInfo>; storeFailures?: number } = {}) {
  const steps: string[] = [];
  const stored: Array<{ key: InstanceKey; tokens: InstallTokens }> = [];
  let clock = T0;
  let storeFailures = options.storeFailures ?? 0;
  const tokens: LegacyTokens = { accessToken: `OauthNG.JWS.${randomUUID()}`, refreshToken: randomUUID(), expiresAt: T0 + 300_000 };
  let instanceId = '';

  const deps: InstallDeps = {
    appIds: [app.appId],
    installerUrl: 'https://installer.example',
    publicUrl: 'https://tokens.example',
    secrets: memorySecrets([app, second]),
    states: {
      consume: async (id, expiresAt, consumer) => {
        steps.push('consume');
        return states.consume(id, expiresAt, consumer);
      },
      release: async (id, consumer) => {
        steps.push('release');
        return states.release(id, consumer);
      },
    },
    store: {
      storeInstallTokens: async (key, install) => {
        steps.push('store');
        if (storeFailures > 0) {
          storeFailures -= 1;
          throw new StoreUnavailableError('ThrottlingException', 'storeInstallTokens', new Error('slow down'));
        }
        stored.push({ key, tokens: install });
        return { ...key, version: stored.length } as InstanceRecord;
      },
    },
    wix: {
      exchangeCode: async () => {
        steps.push('exchange');
        return options.exchange ? options.exchange() : tokens;
      },
      getTokenInfo: async (token) => {
        steps.push('token-info');
        return options.tokenInfo ? options.tokenInfo(token) : { active: true, instanceId, clientId: app.appId };
      },
    },
    now: () => clock,
    sleep: async (ms) => {
      steps.push(`sleep ${ms}`);
      clock += ms;
    },
    logger: captureLogger(),
  };
  // The single-use rules themselves (contract-tested in test/contract/token-store), on this clock.
  const states = createMemoryInstallStateStore({ now: () => clock });
  return {
    deps,
    steps,
    stored,
    tokens,
    states,
    forInstance(id: string) {
      instanceId = id;
    },
  };
}

async function callback(f: ReturnType<typeof fakes>, overrides: { code?: string; state?: string; instanceId?: string } = {}) {
  const instanceId = randomUUID();
  f.forInstance(overrides.instanceId ?? instanceId);
  const state = await issueInstallState(f.deps, app.appId);
  return completeInstall(f.deps, { code: 'the-code', state, instanceId, ...overrides }, { deadline: T0 + 9_000 });
}

const failure = (promise: Promise<unknown>): Promise<Error> => rejectionOf(promise);

describe('startInstall', () => {
  it('sends the browser to the installer with the token, app id, our Redirect URL and a signed state', async () => {
    const f = fakes();

    const { location, fromWix } = await startInstall(f.deps, { token: 'wix-install-token' });

    const url = new URL(location);
    expect(fromWix).toBe(true);
    expect(`${url.origin}${url.pathname}`).toBe('https://installer.example/installer/install');
    expect([...url.searchParams.keys()]).toEqual(['token', 'appId', 'redirectUrl', 'state']);
    expect(url.searchParams.get('token')).toBe('wix-install-token');
    expect(url.searchParams.get('appId')).toBe(app.appId);
    expect(url.searchParams.get('redirectUrl')).toBe('https://tokens.example/oauth/callback');
    expect(url.searchParams.get('state')).toMatch(new RegExp(`^v2\\.${app.appId}\\.`));
  });

  it('leaves the token out when the install starts from our own site', async () => {
    const f = fakes();

    const absent = await startInstall(f.deps, {});
    const empty = await startInstall(f.deps, { token: '' });

    expect(new URL(absent.location).searchParams.has('token')).toBe(false);
    expect(new URL(empty.location).searchParams.has('token')).toBe(false);
    expect([absent.fromWix, empty.fromWix]).toEqual([false, false]);
  });

  it('needs an appId when the deployment serves several apps, and signs the state for that app', async () => {
    const f = fakes();
    f.deps.appIds = [app.appId, second.appId];

    const error = await failure(startInstall(f.deps, {}));
    const { appId, location } = await startInstall(f.deps, { appId: second.appId.toUpperCase() });

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe('appId is required: this deployment serves several apps');
    expect(appId).toBe(second.appId);
    expect(new URL(location).searchParams.get('state')).toMatch(new RegExp(`^v2\\.${second.appId}\\.`));
  });

  it.each([
    ['an app id that is not a GUID', { appId: 'nope' }, 'appId must be a GUID'],
    ['an app this deployment does not serve', { appId: randomUUID() }, 'appId is not an app this deployment serves'],
    ['a token too long to be one', { token: 'x'.repeat(5000) }, 'token is too long'],
  ])('refuses %s', async (_name, request, message) => {
    const error = await failure(startInstall(fakes().deps, request));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe(message);
  });
});

describe('completeInstall', () => {
  it('consumes the state, exchanges the code, checks the instance with Token Info, stores, then answers close-window', async () => {
    const f = fakes();
    const instanceId = randomUUID();
    f.forInstance(instanceId);
    const state = await issueInstallState(f.deps, app.appId);
    const { id: stateId } = await verifyInstallState(f.deps, state);

    const done = await completeInstall(f.deps, { code: 'the-code', state, instanceId }, { deadline: T0 + 9_000 });

    expect(f.steps).toEqual(['consume', 'exchange', 'token-info', 'store']);
    expect(done.location).toBe(`https://installer.example/installer/close-window?access_token=${encodeURIComponent(f.tokens.accessToken)}`);
    expect(f.stored[0]?.tokens).toEqual({
      refreshToken: f.tokens.refreshToken,
      accessToken: f.tokens.accessToken,
      accessTokenExpiresAt: f.tokens.expiresAt,
      installedAt: T0,
      installId: createHash('sha256').update(stateId, 'utf8').digest('base64url'),
      refreshDueAt: legacyHealthDueAt(T0, { appId: app.appId, instanceId: done.instanceId }),
    });
    expect(f.stored[0]?.key).toEqual({ appId: app.appId, instanceId: done.instanceId });
  });

  it('refuses a replayed callback before it reaches Wix or the store', async () => {
    const f = fakes();
    const instanceId = randomUUID();
    f.forInstance(instanceId);
    const state = await issueInstallState(f.deps, app.appId);
    await completeInstall(f.deps, { code: 'c', state, instanceId }, { deadline: T0 + 9000 });
    f.steps.length = 0;

    const error = await failure(completeInstall(f.deps, { code: 'c', state, instanceId }, { deadline: T0 + 9000 }));

    expect(error).toBeInstanceOf(InstallStateError);
    expect((error as InstallStateError).reason).toBe('used');
    expect(f.steps).toEqual(['consume']);
    expect(f.stored).toHaveLength(1);
  });

  it('gives the state back when Wix was unavailable, so reloading the callback can succeed', async () => {
    let calls = 0;
    const f = fakes({
      exchange: async () => {
        calls += 1;
        if (calls === 1) throw new WixUnavailableError('WIX_HTTP_503', 'Wix authorization_code failed: 503', { operation: 'authorization_code', status: 503 });
        return f.tokens;
      },
    });
    const instanceId = randomUUID();
    f.forInstance(instanceId);
    const state = await issueInstallState(f.deps, app.appId);

    const error = await failure(completeInstall(f.deps, { code: 'c', state, instanceId }, { deadline: T0 + 9000 }));
    const retried = await completeInstall(f.deps, { code: 'c', state, instanceId }, { deadline: T0 + 9000 });

    expect(error).toBeInstanceOf(WixUnavailableError);
    expect(f.steps).toEqual(['consume', 'exchange', 'release', 'consume', 'exchange', 'token-info', 'store']);
    expect(retried.instanceId).toBe(instanceId);
  });

  it('gives the state back when the app secret could not be read for the exchange', async () => {
    const f = fakes({ exchange: async () => Promise.reject(new SecretsUnavailableError(app.appId, new Error('down'))) });

    const error = await failure(callback(f));

    expect(error).toBeInstanceOf(SecretsUnavailableError);
    expect(f.steps).toEqual(['consume', 'exchange', 'release']);
  });

  it('keeps the original failure, and logs no state, when the state cannot be given back', async () => {
    const f = fakes({ exchange: async () => Promise.reject(new WixUnavailableError('WIX_HTTP_503', 'Wix authorization_code failed: 503', { operation: 'authorization_code', status: 503 })) });
    f.deps.states.release = async () => {
      f.steps.push('release');
      throw new StoreUnavailableError('ThrottlingException', 'releaseState', new Error('slow down'));
    };
    const instanceId = randomUUID();
    f.forInstance(instanceId);
    const state = await issueInstallState(f.deps, app.appId);

    const error = await failure(completeInstall(f.deps, { code: 'c', state, instanceId }, { deadline: T0 + 9000 }));

    expect(error).toBeInstanceOf(WixUnavailableError);
    expect(f.steps).toEqual(['consume', 'exchange', 'release']);
    const lines = (f.deps.logger as CapturedLogger).lines;
    expect(lines.some((line) => line.includes('install state could not be released') && line.includes(instanceId))).toBe(true);
    expect(lines.join('\n')).not.toContain(state.split('.')[2]);
  });

  it('keeps the state spent and stores nothing when Token Info is unavailable after the exchange (the code is spent)', async () => {
    const f = fakes({
      tokenInfo: async () => Promise.reject(new WixUnavailableError('WIX_HTTP_503', 'Wix token_info failed: 503', { operation: 'token_info', status: 503 })),
    });

    const error = await failure(callback(f));

    expect(error).toBeInstanceOf(WixUnavailableError);
    expect(f.steps).toEqual(['consume', 'exchange', 'token-info']);
    expect(f.stored).toHaveLength(0);
  });

  it('reaches neither Wix nor the store when the state cannot be consumed (the store is down), retrying the consume within its budget', async () => {
    const f = fakes();
    f.deps.states.consume = async () => {
      f.steps.push('consume');
      throw new StoreUnavailableError('ThrottlingException', 'consumeState', new Error('slow down'));
    };

    const error = await failure(callback(f));

    expect(error).toBeInstanceOf(StoreUnavailableError);
    const calls = f.steps.filter((step) => !step.startsWith('sleep'));
    const slept = f.steps.filter((step) => step.startsWith('sleep')).map((step) => Number(step.split(' ')[1]));
    expect(calls.length).toBeGreaterThan(1);
    expect(new Set(calls)).toEqual(new Set(['consume']));
    // The consume budget (2 s), well inside the callback's deadline.
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBeLessThan(2000);
  });

  it('issue 11 defect 3: a consume whose answer was lost is recognised on retry (no \'already used\')', async () => {
    const f = fakes();
    let lost = 1;
    f.deps.states.consume = async (id, expiresAt, consumer, options) => {
      f.steps.push('consume');
      const consumed = await f.states.consume(id, expiresAt, consumer, options);
      if (lost > 0) {
        lost -= 1;
        // DynamoDB applied the write; its answer never reached us.
        throw new StoreUnavailableError('TimeoutError', 'consumeState', new Error('timed out'));
      }
      return consumed;
    };
    const instanceId = randomUUID();
    f.forInstance(instanceId);
    const state = await issueInstallState(f.deps, app.appId);

    const done = await completeInstall(f.deps, { code: 'c', state, instanceId }, { deadline: T0 + 9000 });
    const replay = await failure(completeInstall(f.deps, { code: 'c', state, instanceId }, { deadline: T0 + 9000 }));

    expect(done.instanceId).toBe(instanceId);
    expect(f.steps.slice(0, 6)).toEqual(['consume', 'sleep 25', 'consume', 'exchange', 'token-info', 'store']);
    expect(f.stored).toHaveLength(1);
    expect(replay).toBeInstanceOf(InstallStateError);
    expect((replay as InstallStateError).reason).toBe('used');
  });

  it.each([
    ['Wix refused the code', () => new WixGrantInvalidError('Wix authorization_code failed: invalid_grant', { operation: 'authorization_code', status: 400 })],
    ['Wix answered 200 with an unusable body (the code is spent)', () => new WixMalformedResponseError('Wix authorization_code failed: not JSON', { operation: 'authorization_code', status: 200 })],
  ])('keeps the state spent when %s', async (_name, makeError) => {
    const f = fakes({ exchange: async () => Promise.reject(makeError()) });

    await failure(callback(f));

    expect(f.steps).toEqual(['consume', 'exchange']);
  });

  it('refuses to store tokens under an instanceId the code was not issued for', async () => {
    const f = fakes({ tokenInfo: async () => ({ active: true, instanceId: randomUUID(), clientId: app.appId }) });

    const error = await failure(callback(f));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe('instanceId does not match the installation code');
    expect(f.steps).not.toContain('store');
  });

  it('refuses a token Token Info says belongs to another app', async () => {
    const instanceId = randomUUID();
    const f = fakes({ tokenInfo: async () => ({ active: true, instanceId, clientId: second.appId }) });

    const error = await failure(callback(f, { instanceId }));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(f.stored).toHaveLength(0);
  });

  it.each([
    ['inactive', { active: false }],
    ['naming no instance', { active: true }],
  ])('refuses to store when Token Info calls the new token %s', async (_name, info) => {
    const f = fakes({ tokenInfo: async () => info });

    const error = await failure(callback(f));

    expect(error).toBeInstanceOf(InstallNotConfirmedError);
    expect(f.stored).toHaveLength(0);
  });

  it('retries a throttled store with backoff and succeeds', async () => {
    const f = fakes({ storeFailures: 2 });

    const done = await callback(f);

    expect(f.steps).toEqual(['consume', 'exchange', 'token-info', 'store', 'sleep 25', 'store', 'sleep 50', 'store']);
    expect(done.version).toBe(1);
  });

  it('stops retrying the store at the deadline and lets the failure through, with no close-window', async () => {
    const f = fakes({ storeFailures: 1000 });

    const error = await failure(callback(f));

    expect(error).toBeInstanceOf(StoreUnavailableError);
    const slept = f.steps.filter((step) => step.startsWith('sleep')).map((step) => Number(step.split(' ')[1]));
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBeLessThan(9000);
    expect(slept.length).toBeGreaterThan(3);
  });

  it('does not retry a lost race (TokenConflictError): only a throttled store is retried', async () => {
    const f = fakes();
    f.deps.store.storeInstallTokens = async (key) => {
      f.steps.push('store');
      throw new TokenConflictError(key, 'version', undefined);
    };

    const error = await failure(callback(f));

    expect(error).toBeInstanceOf(TokenConflictError);
    expect(f.steps).toEqual(['consume', 'exchange', 'token-info', 'store']);
  });

  it('passes one installId to every retry of the store, so a retried write recognises its own', async () => {
    const f = fakes();
    const installIds: Array<string | undefined> = [];
    f.deps.store.storeInstallTokens = async (key, install) => {
      f.steps.push('store');
      installIds.push(install.installId);
      if (installIds.length < 3) throw new StoreUnavailableError('TimeoutError', 'installCallback', new Error('timed out'));
      return { ...key, version: 1 } as InstanceRecord;
    };

    await callback(f);

    expect(installIds).toHaveLength(3);
    expect(new Set(installIds).size).toBe(1);
    expect(installIds[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("issue 11 defect 4: the install is ordered by Token Info's iat, not this service's clock", async () => {
    // This service's clock runs 5 s ahead of Wix's; the app was removed 1 s after the consent (Wix's clock).
    const iat = T0 - 5000;
    let issuedAt = iat;
    const instanceId = randomUUID();
    const f = fakes({ tokenInfo: async () => ({ active: true, instanceId, clientId: app.appId, issuedAt }) });
    const store = createMemoryTokenStore({ cipherFor: testCipherFor(), now: f.deps.now });
    f.deps.store = store;
    const key = { appId: app.appId, instanceId };
    await store.recordAppRemoved(key, { eventAt: iat + 1000 });

    const refused = await failure(completeInstall(f.deps, { code: 'c', state: await issueInstallState(f.deps, app.appId), instanceId }, { deadline: T0 + 9000 }));
    issuedAt = iat + 2000;
    const reinstalled = await completeInstall(f.deps, { code: 'c2', state: await issueInstallState(f.deps, app.appId), instanceId }, { deadline: T0 + 9000 });
    const record = await store.getInstance(key, { consistentRead: true });

    expect(refused).toBeInstanceOf(StaleEventError);
    expect(reinstalled.version).toBe(2);
    expect(record).toMatchObject({ status: 'active', lastInstallAt: iat + 2000, lastEventAt: iat + 2000 });
  });

  it('lets a StaleEventError through: the app was removed after this consent', async () => {
    const f = fakes();
    f.deps.store.storeInstallTokens = async (key) => {
      throw new StaleEventError(key, T0, T0 + 1);
    };

    const error = await failure(callback(f));

    expect(error).toBeInstanceOf(StaleEventError);
  });

  it.each([
    ['no state', { state: '' }, InstallStateError, 'The install state is missing'],
    ['no code', { code: '' }, InvalidRequestError, 'code is missing'],
    ['no instanceId', { instanceId: '' }, InvalidRequestError, 'instanceId is missing'],
    ['an instanceId that is not a GUID', { instanceId: '../etc' }, InvalidRequestError, 'instanceId must be a GUID'],
    ['a code too long to be one', { code: 'c'.repeat(5000) }, InvalidRequestError, 'code is too long'],
  ])('refuses a callback with %s before doing anything', async (_name, overrides, type, message) => {
    const f = fakes();

    const error = await failure(callback(f, overrides));

    expect(error).toBeInstanceOf(type);
    expect(error.message).toBe(message);
    expect(f.steps).toEqual([]);
  });
});
