import { randomUUID } from 'node:crypto';

import { importInstalls, parseImportLine } from '../../../../lib/ops/import';
import { rewrap } from '../../../../lib/ops/keys';
import { createMemoryTokenStore } from '../../../../lib/store';
import { WixCredentialsRejectedError, WixGrantInvalidError, WixUnavailableError, type WixClient } from '../../../../lib/wix';
import { testCipherFor } from '../../../support/token-cipher';

const app = { appId: randomUUID(), appSecret: 'app-secret' };

function fakeWix(refresh: WixClient['refreshAccessToken']): Pick<WixClient, 'refreshAccessToken' | 'createAccessToken'> {
  return {
    refreshAccessToken: refresh,
    createAccessToken: async () => ({ accessToken: 'cc-access', tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000 }),
  };
}

describe('parseImportLine', () => {
  const id = randomUUID();
  it.each([
    ['not JSON', '{"instanceId":'],
    ['an array', `["${id}"]`],
    ['a number', '42'],
    ['no instanceId', '{"refreshToken":"r"}'],
    ['an instanceId that is not a GUID', '{"instanceId":"site-1"}'],
    ['an empty refresh token', `{"instanceId":"${id}","refreshToken":" "}`],
    ['a refresh token that is not a string', `{"instanceId":"${id}","refreshToken":7}`],
    ['an unknown field', `{"instanceId":"${id}","accessToken":"a"}`],
  ])('refuses %s', (_label, text) => {
    expect(parseImportLine(text)).toBeUndefined();
  });

  it('reads a legacy line and a client-credentials line, instance ids lower-cased', () => {
    expect(parseImportLine(`{"instanceId":"${id.toUpperCase()}","refreshToken":"r"}`)).toEqual({ instanceId: id, refreshToken: 'r' });
    expect(parseImportLine(`{"instanceId":"${id}"}`)).toEqual({ instanceId: id });
  });
});

describe('importInstalls', () => {
  const line = (refreshToken?: string) => JSON.stringify({ instanceId: randomUUID(), ...(refreshToken === undefined ? {} : { refreshToken }) });

  it('marks a line Wix could not be asked about as failed, and a refused one as refused', async () => {
    const store = createMemoryTokenStore({ cipherFor: testCipherFor() });
    const wix = fakeWix(async (_app, token) => {
      if (token === 'dead') throw new WixGrantInvalidError('refused', { operation: 'refresh_token' });
      if (token === 'busy') throw new WixUnavailableError('WIX_UNAVAILABLE', 'down', { operation: 'refresh_token' });
      return { accessToken: 'a', refreshToken: 'r2', expiresAt: Date.now() + 300_000 };
    });

    const summary = await importInstalls({ store, wix, credentials: app }, [line('dead'), line('busy'), line('ok'), line()].join('\n'));

    expect(summary).toEqual({ imported: 2, refused: [1], malformed: [], skipped: [], failed: [2] });
  });

  it('stops when Wix refuses the app secret, and rethrows what is not a Wix failure', async () => {
    const store = createMemoryTokenStore({ cipherFor: testCipherFor() });
    const rejected = fakeWix(async () => {
      throw new WixCredentialsRejectedError('bad secret', { operation: 'refresh_token' });
    });
    const broken = fakeWix(async () => {
      throw new TypeError('a bug');
    });

    await expect(importInstalls({ store, wix: rejected, credentials: app }, line('r'))).rejects.toBeInstanceOf(WixCredentialsRejectedError);
    await expect(importInstalls({ store, wix: broken, credentials: app }, line('r'))).rejects.toBeInstanceOf(TypeError);
  });
});

describe('rewrap', () => {
  it('keeps to the rate: n writes take (n - 1) / rate seconds on its clock', async () => {
    const store = createMemoryTokenStore({ cipherFor: testCipherFor() });
    // Items under a key id the ring does not hold as current: the store's own cipher writes 'test-key'.
    for (let i = 0; i < 5; i++) {
      await store.storeInstallTokens({ appId: app.appId, instanceId: randomUUID() }, { refreshToken: 'r', accessToken: 'a', accessTokenExpiresAt: 1, installedAt: 1, refreshDueAt: null });
    }
    let clock = 0;
    const attempts: number[] = [];
    const counting = { ...store, rewrapTokens: async () => (attempts.push(clock), 'rewrapped' as const) };

    const summary = await rewrap(counting, { currentKeyIdFor: async () => 'other-key', ratePerSecond: 2, now: () => clock, sleep: async (ms) => void (clock += ms) });

    expect(summary).toMatchObject({ scanned: 5, rewrapped: 5 });
    expect(attempts).toEqual([0, 500, 1000, 1500, 2000]);
  });

  it('leaves the items of an app it does not serve alone', async () => {
    const store = createMemoryTokenStore({ cipherFor: testCipherFor() });
    await store.storeInstallTokens({ appId: app.appId, instanceId: randomUUID() }, { refreshToken: 'r', accessToken: 'a', accessTokenExpiresAt: 1, installedAt: 1, refreshDueAt: null });

    expect(await rewrap(store, { currentKeyIdFor: async () => undefined })).toMatchObject({ scanned: 1, unserved: 1, rewrapped: 0 });
  });
});
