import { LAST_USED_RESOLUTION_MS, shouldTouchLastUsed } from '../../../lib/store';
import { fakeToken, newInstance, STORE_KINDS, useStoreFixture } from '../../support/token-store';

describe.each(STORE_KINDS)('%s token store: touchLastUsed', (kind) => {
  const f = useStoreFixture('last-used', kind);

  it('writes at most once a minute, without bumping the version or touching a held lease', async () => {
    const key = newInstance();
    const installed = await f.store.storeInstallTokens(key, {
      refreshToken: fakeToken('refresh'),
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 300_000,
      installedAt: f.clock.now,
      refreshDueAt: null,
    });
    const held = await f.store.acquireLease(key, { owner: 'minter' });
    const t = f.clock.now;

    const first = await f.store.touchLastUsed(key, t);
    const soon = await f.store.touchLastUsed(key, t + LAST_USED_RESOLUTION_MS - 1);
    const later = await f.store.touchLastUsed(key, t + LAST_USED_RESOLUTION_MS);
    const record = await f.store.getInstance(key, { consistentRead: true });

    expect([first, soon, later]).toEqual([true, false, true]);
    expect(record?.lastUsedAt).toBe(t + LAST_USED_RESOLUTION_MS);
    expect(record?.version).toBe(installed.version);
    expect(held.acquired && record?.lease).toEqual(held.acquired ? held.lease : undefined);
    expect(shouldTouchLastUsed(record ?? {}, t + LAST_USED_RESOLUTION_MS + 1)).toBe(false);
  });

  it('does not let a holder write fail because of a last-use write', async () => {
    const key = newInstance();
    await f.store.storeInstallTokens(key, {
      refreshToken: fakeToken('refresh'),
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 300_000,
      installedAt: f.clock.now,
      refreshDueAt: null,
    });
    const held = await f.store.acquireLease(key, { owner: 'minter' });
    if (!held.acquired) throw new Error('arrange: no lease');
    await f.store.touchLastUsed(key, f.clock.now);

    const stored = await f.store.storeLeasedTokens(key, {
      owner: 'minter',
      expectedVersion: held.record.version,
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 3_600_000,
      refreshDueAt: null,
    });

    expect(stored.lastUsedAt).toBe(f.clock.now);
    expect(stored.version).toBe(held.record.version + 1);
  });

  it('creates nothing for an unknown instance', async () => {
    const key = newInstance();

    const touched = await f.store.touchLastUsed(key, f.clock.now);

    expect(touched).toBe(false);
    expect(await f.store.getInstance(key, { consistentRead: true })).toBeUndefined();
  });
});
