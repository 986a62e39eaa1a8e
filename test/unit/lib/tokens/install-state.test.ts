import { createHash, createHmac, randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { SecretsUnavailableError } from '../../../../lib/secrets';
import {
  INSTALL_STATE_TTL_MS,
  installStateKey,
  InstallStateError,
  issueBoundInstallState,
  issueInstallState,
  verifyInstallState,
  type InstallStateDeps,
} from '../../../../lib/tokens/install-state';
import { memorySecrets } from '../../../support/http-fixture';

const app = demoAppSecret(randomUUID());
const other = demoAppSecret(randomUUID());
const T0 = Date.UTC(2030, 0, 1, 12);

function deps(overrides: Partial<InstallStateDeps> = {}, now = T0): InstallStateDeps {
  return { secrets: memorySecrets([app, other]), appIds: [app.appId, other.appId], now: () => now, ...overrides };
}

async function refusal(promise: Promise<unknown>): Promise<InstallStateError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(InstallStateError);
    return error as InstallStateError;
  }
  throw new Error('expected the state to be refused');
}

/** Signs `signed` the way the service does, with the key of `appSecret`. */
function sign(signed: string, appSecret: string): string {
  return `${signed}.${createHmac('sha256', installStateKey(appSecret)).update(signed).digest('base64url')}`;
}

describe('install state', () => {
  it('verifies a state it issued, naming the app, its issue time and a ten-minute expiry', async () => {
    const state = await issueInstallState(deps(), app.appId);

    const verified = await verifyInstallState(deps({}, T0 + 1000), state);

    expect(state).toMatch(/^v2\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{22}\.\d+\.u\.[A-Za-z0-9_-]{43}$/);
    expect(verified).toEqual({ appId: app.appId, id: state.slice(0, state.lastIndexOf('.')), issuedAt: T0, expiresAt: T0 + INSTALL_STATE_TTL_MS, bound: false });
  });

  it('issues a different state every time (a random nonce)', async () => {
    const states = await Promise.all(Array.from({ length: 20 }, () => issueInstallState(deps(), app.appId)));

    expect(new Set(states).size).toBe(20);
  });

  it('refuses a state signed with another app secret', async () => {
    const forged = sign(`v1.${app.appId}.${'A'.repeat(22)}.${T0}`, 'not-the-app-secret');

    const error = await refusal(verifyInstallState(deps(), forged));

    expect(error.reason).toBe('invalid');
    expect(error.code).toBe('INSTALL_STATE_INVALID');
  });

  it('refuses a state signed with the raw app secret instead of the derived key', async () => {
    const signed = `v1.${app.appId}.${'A'.repeat(22)}.${T0}`;
    const forged = `${signed}.${createHmac('sha256', app.appSecret).update(signed).digest('base64url')}`;

    const error = await refusal(verifyInstallState(deps(), forged));

    expect(error.reason).toBe('invalid');
  });

  it('refuses a state issued for one app and relabelled for another', async () => {
    const state = await issueInstallState(deps(), app.appId);
    const relabelled = state.replace(app.appId, other.appId);

    const error = await refusal(verifyInstallState(deps(), relabelled));

    expect(error.reason).toBe('invalid');
  });

  it('refuses a state whose issue time was moved forward to extend it', async () => {
    const state = await issueInstallState(deps(), app.appId);
    const [v, appId, nonce, , mac] = state.split('.');
    const altered = [v, appId, nonce, String(T0 + 5 * 60_000), mac].join('.');

    const error = await refusal(verifyInstallState(deps({}, T0 + 11 * 60_000), altered));

    expect(error.reason).toBe('invalid');
  });

  it('refuses a state whose nonce was changed', async () => {
    const state = await issueInstallState(deps(), app.appId);
    const [v, appId, nonce, issuedAt, mac] = state.split('.') as [string, string, string, string, string];
    const altered = [v, appId, `${nonce.slice(0, 21)}${nonce[21] === 'A' ? 'B' : 'A'}`, issuedAt, mac].join('.');

    const error = await refusal(verifyInstallState(deps(), altered));

    expect(error.reason).toBe('invalid');
  });

  it('refuses a second spelling of a valid MAC (base64url spare bits), so a state has one form only', async () => {
    const state = await issueInstallState(deps(), app.appId);
    const mac = state.slice(state.lastIndexOf('.') + 1);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(mac[42] as string);
    const respelled = `${state.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(respelled.slice(respelled.lastIndexOf('.') + 1), 'base64url')).toEqual(Buffer.from(mac, 'base64url'));

    const error = await refusal(verifyInstallState(deps(), respelled));

    expect(error.reason).toBe('invalid');
  });

  it('refuses a state ten minutes after it was issued', async () => {
    const state = await issueInstallState(deps(), app.appId);

    const stillGood = await verifyInstallState(deps({}, T0 + INSTALL_STATE_TTL_MS - 1), state);
    const error = await refusal(verifyInstallState(deps({}, T0 + INSTALL_STATE_TTL_MS), state));

    expect(stillGood.appId).toBe(app.appId);
    expect(error.reason).toBe('expired');
    expect(error.code).toBe('INSTALL_STATE_EXPIRED');
  });

  it('refuses a state issued more than a little in the future', async () => {
    const state = await issueInstallState(deps({}, T0 + 60_000), app.appId);

    const error = await refusal(verifyInstallState(deps({}, T0), state));

    expect(error.reason).toBe('invalid');
  });

  it('refuses a state for an app this deployment does not serve, without reading any secret', async () => {
    const state = await issueInstallState(deps(), other.appId);
    const secrets = memorySecrets([app, other]);

    const error = await refusal(verifyInstallState(deps({ secrets, appIds: [app.appId] }), state));

    expect(error.reason).toBe('invalid');
    expect(secrets.gets).toEqual([]);
  });

  it.each([
    ['an empty string', ''],
    ['a random word', 'hello'],
    ['a GUID', randomUUID()],
    ['an upper-case app id', `v1.${app.appId.toUpperCase()}.${'A'.repeat(22)}.${T0}.${'A'.repeat(43)}`],
    ['a different version', `v2.${app.appId}.${'A'.repeat(22)}.${T0}.${'A'.repeat(43)}`],
    ['a padded MAC', `v1.${app.appId}.${'A'.repeat(22)}.${T0}.${'A'.repeat(43)}=`],
    ['markup', `<script>alert(1)</script>`],
  ])('refuses %s as missing or invalid', async (_name, state) => {
    const error = await refusal(verifyInstallState(deps(), state));

    expect(error.reason).toBe(state === '' ? 'missing' : 'invalid');
  });

  it('accepts a state signed with the previous app secret while a rotation settles', async () => {
    const state = await issueInstallState(deps(), app.appId);
    const rotated = { ...app, appSecret: 'the-new-secret' };
    const secrets = memorySecrets([rotated], { previous: { [app.appId]: app.appSecret } });

    const verified = await verifyInstallState(deps({ secrets, appIds: [app.appId] }), state);

    expect(verified.appId).toBe(app.appId);
  });

  it('lets a secrets failure through instead of calling the state invalid', async () => {
    const state = await issueInstallState(deps(), app.appId);
    const failing = memorySecrets([app], { fail: { [app.appId]: new SecretsUnavailableError(app.appId, new Error('down')) } });

    await expect(verifyInstallState(deps({ secrets: failing, appIds: [app.appId] }), state)).rejects.toBeInstanceOf(SecretsUnavailableError);
  });

  it('never puts the state into the error message', async () => {
    const state = await issueInstallState(deps(), app.appId);

    const error = await refusal(verifyInstallState(deps({}, T0 + INSTALL_STATE_TTL_MS), state));

    expect(error.message).not.toContain(state.split('.')[2]);
    expect(JSON.stringify(error)).not.toContain(state.split('.')[2]);
  });
});

describe('install state bound to a browser', () => {
  it('marks a bound state under its MAC and gives back the tag its cookie carries, the same on verify', async () => {
    const { state, browserTag } = await issueBoundInstallState(deps(), app.appId);

    const verified = await verifyInstallState(deps({}, T0 + 1000), state);

    expect(state).toMatch(/^v2\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{22}\.\d+\.b\.[A-Za-z0-9_-]{43}$/);
    expect(verified.bound).toBe(true);
    expect(verified.browserTag).toBe(browserTag);
    expect(browserTag).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('does not give the tag away: it is neither the nonce nor its plain SHA-256', async () => {
    const { state, browserTag } = await issueBoundInstallState(deps(), app.appId);
    const nonce = state.split('.')[2] as string;

    expect(state).not.toContain(browserTag);
    expect(browserTag).not.toBe(createHash('sha256').update(nonce).digest('base64url'));
    expect(browserTag).not.toBe(createHash('sha256').update(Buffer.from(nonce, 'base64url')).digest('base64url'));
  });

  it('refuses a bound state relabelled unbound (the binding is under the MAC)', async () => {
    const { state } = await issueBoundInstallState(deps(), app.appId);

    const error = await refusal(verifyInstallState(deps(), state.replace('.b.', '.u.')));

    expect(error.reason).toBe('invalid');
  });

  it('keys the tag with the secret that signed the state, so a rotation keeps installs in flight', async () => {
    const { state, browserTag } = await issueBoundInstallState(deps(), app.appId);
    const rotated = demoAppSecret(app.appId);

    const verified = await verifyInstallState(deps({ secrets: memorySecrets([{ ...app, appSecret: rotated.appSecret }], { previous: { [app.appId]: app.appSecret } }) }), state);

    expect(verified.browserTag).toBe(browserTag);
  });

  it('still accepts a v1 state (issued before v2) as unbound', async () => {
    const v1 = sign(`v1.${app.appId}.${'A'.repeat(22)}.${T0}`, app.appSecret);

    const verified = await verifyInstallState(deps(), v1);

    expect(verified).toMatchObject({ appId: app.appId, bound: false });
    expect(verified.browserTag).toBeUndefined();
  });
});
