import { randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { IssuedKind, recordIssued } from '../../../../infra/local/issued-values';
import { GrantKind, InstanceStatus, StaleEventError, type InstallStateStore, type InstanceKey, type TokenStore } from '../../../../lib/store';
import { completeInstall, type InstallDeps } from '../../../../lib/tokens/install';
import { InstallStateError, issueInstallState } from '../../../../lib/tokens/install-state';
import { legacyHealthDueAt } from '../../../../lib/tokens/refresh-policy';
import { createMemoryWorld, issued, rejectionOf, storeOutage, type MemoryWorld } from '../../../support/memory-world';

const app = demoAppSecret(randomUUID());

function installer(world: MemoryWorld, overrides: Partial<InstallDeps> = {}): InstallDeps {
  return {
    appIds: [app.appId],
    installerUrl: 'https://installer.example',
    publicUrl: 'https://tokens.example',
    secrets: world.secrets,
    store: world.store,
    states: world.states,
    wix: world.wix,
    now: world.clock.now,
    sleep: world.sleep,
    logger: world.logger,
    ...overrides,
  };
}

/** Token Info vouches for `key`, with the exchanged token issued at `issuedAt` (Wix's clock). */
function tokenInfoFor(world: MemoryWorld, key: InstanceKey, issuedAt: number | undefined): void {
  world.wix.answers.token_info = () => ({ active: true, instanceId: key.instanceId, clientId: key.appId, ...(issuedAt === undefined ? {} : { issuedAt }) });
}

/** One consent: a signed state and a code, as the browser brings them back. */
async function consent(world: MemoryWorld, key: InstanceKey, deps: InstallDeps = installer(world)) {
  const state = await issueInstallState(deps, key.appId);
  recordIssued(IssuedKind.InstallState, state);
  return { code: issued(IssuedKind.AuthorizationCode, 'code'), state, instanceId: key.instanceId };
}

const inNineSeconds = (world: MemoryWorld) => ({ deadline: world.clock.now() + 9000 });

describe('completeInstall on the memory stores', () => {
  it('stores the exchanged tokens as a legacy instance ordered by Token Info’s issue time', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const key = w.newKey();
    const issuedAt = w.clock.now() - 2000;
    tokenInfoFor(w, key, issuedAt);
    const deps = installer(w);
    const request = await consent(w, key, deps);

    const completed = await completeInstall(deps, request, inNineSeconds(w));
    const record = await w.store.getInstance(key);
    const exchanged = w.wix.calls[0];

    expect(w.wix.calls.map((call) => call.operation)).toEqual(['authorization_code', 'token_info']);
    expect(exchanged?.code).toBe(request.code);
    expect(completed).toMatchObject({ ...key, version: 1 });
    expect(completed.location.startsWith('https://installer.example/installer/close-window?access_token=')).toBe(true);
    expect(record).toMatchObject({
      status: InstanceStatus.Active,
      grantKind: GrantKind.Legacy,
      lastInstallAt: issuedAt,
      lastEventAt: issuedAt,
      refreshDueAt: legacyHealthDueAt(w.clock.now(), key),
      version: 1,
    });
    expect(record?.refreshToken).toMatch(/^rt\./);
    expect(new URL(completed.location).searchParams.get('access_token')).toBe(record?.accessToken);
  });

  it('answers a reload after success as used, with no second exchange and nothing rewritten', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const key = w.newKey();
    tokenInfoFor(w, key, w.clock.now());
    const deps = installer(w);
    const request = await consent(w, key, deps);
    await completeInstall(deps, request, inNineSeconds(w));

    const error = await rejectionOf(completeInstall(deps, request, inNineSeconds(w)));

    expect(error).toBeInstanceOf(InstallStateError);
    expect((error as InstallStateError).reason).toBe('used');
    expect(w.wix.count('authorization_code')).toBe(1);
    expect((await w.store.getInstance(key))?.version).toBe(1);
  });

  it('issue 11 defect 3: recognises its own consume whose answer was lost, and completes', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const key = w.newKey();
    tokenInfoFor(w, key, w.clock.now());
    let consumes = 0;
    const states: InstallStateStore = {
      consume: async (...args) => {
        consumes += 1;
        const consumed = await w.states.consume(...args);
        if (consumes === 1) throw storeOutage('consume');
        return consumed;
      },
      release: (...args) => w.states.release(...args),
    };
    const deps = installer(w, { states });
    const request = await consent(w, key, deps);

    const completed = await completeInstall(deps, request, inNineSeconds(w));
    const reload = await rejectionOf(completeInstall(deps, request, inNineSeconds(w)));

    expect(consumes).toBe(3);
    expect(completed.version).toBe(1);
    expect(w.wix.count('authorization_code')).toBe(1);
    expect((reload as InstallStateError).reason).toBe('used');
  });

  it('issue 11 defect 3: recognises its own token store whose answer was lost, and completes', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const key = w.newKey();
    tokenInfoFor(w, key, w.clock.now());
    let stores = 0;
    const store: Pick<TokenStore, 'storeInstallTokens'> = {
      storeInstallTokens: async (...args) => {
        stores += 1;
        const record = await w.store.storeInstallTokens(...args);
        if (stores === 1) throw storeOutage('storeInstallTokens');
        return record;
      },
    };
    const deps = installer(w, { store });

    const completed = await completeInstall(deps, await consent(w, key, deps), inNineSeconds(w));
    const record = await w.store.getInstance(key);

    expect(stores).toBe(2);
    expect(completed.version).toBe(1);
    expect(record).toMatchObject({ status: InstanceStatus.Active, version: 1 });
    expect(w.wix.count('authorization_code')).toBe(1);
  });

  it('refuses a consent older than a tombstone by Wix’s clocks, whatever ours says', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const key = w.newKey();
    const removedAt = w.clock.now();
    await w.store.recordAppRemoved(key, { eventAt: removedAt });
    // Our clock is 3 s ahead of Wix's; the exchanged token was issued a second before the removal.
    w.clock.advance(3000);
    tokenInfoFor(w, key, removedAt - 1000);
    const deps = installer(w);

    const error = await rejectionOf(completeInstall(deps, await consent(w, key, deps), inNineSeconds(w)));
    const record = await w.store.getInstance(key);

    expect(error).toBeInstanceOf(StaleEventError);
    expect((error as StaleEventError).reason).toBe('uninstalled');
    expect(record?.status).toBe(InstanceStatus.Uninstalled);
    expect(record?.refreshToken).toBeUndefined();
  });

  it('lets the removal win a tie with the consent’s issue time', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const key = w.newKey();
    const removedAt = w.clock.now();
    await w.store.recordAppRemoved(key, { eventAt: removedAt });
    tokenInfoFor(w, key, removedAt);
    const deps = installer(w);

    const error = await rejectionOf(completeInstall(deps, await consent(w, key, deps), inNineSeconds(w)));

    expect(error).toBeInstanceOf(StaleEventError);
    expect((await w.store.getInstance(key))?.status).toBe(InstanceStatus.Uninstalled);
  });

  it('revives a tombstone for a consent issued after the removal, even with our clock behind', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const key = w.newKey();
    const removedAt = w.clock.now();
    await w.store.recordAppRemoved(key, { eventAt: removedAt });
    // A quick reinstall, a second after the removal by Wix's clock; ours is 3 s behind it.
    w.clock.set(removedAt - 3000);
    tokenInfoFor(w, key, removedAt + 1000);
    const deps = installer(w);

    const completed = await completeInstall(deps, await consent(w, key, deps), inNineSeconds(w));
    const record = await w.store.getInstance(key);

    expect(completed.version).toBe(2);
    expect(record).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.Legacy, lastEventAt: removedAt + 1000, lastInstallAt: removedAt + 1000 });
    expect(record?.refreshToken).toMatch(/^rt\./);
  });

  it('never lets a slower, older consent replace a newer install’s refresh token', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const key = w.newKey();
    const newer = w.clock.now();
    const deps = installer(w);
    tokenInfoFor(w, key, newer);
    await completeInstall(deps, await consent(w, key, deps), inNineSeconds(w));
    const stored = (await w.store.getInstance(key))?.refreshToken;
    tokenInfoFor(w, key, newer - 5000);

    const error = await rejectionOf(completeInstall(deps, await consent(w, key, deps), inNineSeconds(w)));

    expect(error).toBeInstanceOf(StaleEventError);
    expect((error as StaleEventError).reason).toBe('superseded');
    expect((await w.store.getInstance(key))?.refreshToken).toBe(stored);
  });
});
