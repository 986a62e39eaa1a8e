import { randomUUID } from 'node:crypto';

import { InstanceStatus, type InstanceKey } from '../../../lib/store';
import { failUnderLease, fakeToken, grantRefused, newInstance, STORE_KINDS, useStoreFixture } from '../../support/token-store';

const MINUTE = 60_000;

describe.each(STORE_KINDS)('%s token store: instance state for operators', (kind) => {
  const f = useStoreFixture('status', kind);
  const appId = randomUUID();
  const otherAppId = randomUUID();
  const active: InstanceKey[] = [];
  const removed: InstanceKey[] = [];
  let reauth: InstanceKey;

  const install = (key: InstanceKey) =>
    f.store.storeInstallTokens(key, {
      refreshToken: fakeToken('refresh'),
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 5 * MINUTE,
      installedAt: f.clock.now - MINUTE,
      refreshDueAt: f.clock.now + 60 * MINUTE,
    });

  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      const key = newInstance(appId);
      await install(key);
      active.push(key);
    }
    for (let i = 0; i < 3; i++) {
      const key = newInstance(appId);
      await install(key);
      await f.store.recordAppRemoved(key, { eventAt: f.clock.now });
      removed.push(key);
    }
    reauth = newInstance(appId);
    await install(reauth);
    await failUnderLease(f.store, reauth, 'sweeper', grantRefused(f.clock.now));
    await install(newInstance(otherAppId));
  });

  const ids = (keys: readonly InstanceKey[]) => keys.map((key) => key.instanceId).sort();

  it('describes one instance without reading its tokens: grant, expiry, last refresh, next due, last failure', async () => {
    const description = await f.store.describeInstance(reauth);

    expect(description).toMatchObject({
      ...reauth,
      status: InstanceStatus.NeedsReauth,
      grantKind: 'legacy',
      accessTokenExpiresAt: f.clock.now + 5 * MINUTE,
      refreshedAt: f.clock.now,
      lastError: { kind: 'grant_invalid', code: 'WIX_INVALID_GRANT', at: f.clock.now, count: 1 },
    });
    expect(description?.refreshDueAt).toBeUndefined();
    expect(JSON.stringify(description)).not.toMatch(/accessToken"|refreshToken/);
    expect((await f.store.describeInstance(active[0]!))?.refreshDueAt).toBe(f.clock.now + 60 * MINUTE);
    expect(await f.store.describeInstance(newInstance(appId))).toBeUndefined();
  });

  it('pages through one state of one app in key order, every instance once', async () => {
    const seen: InstanceKey[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await f.store.listByStatus({ status: InstanceStatus.Active, appId, limit: 3, ...(cursor === undefined ? {} : { cursor }) });
      expect(page.instances.length).toBeLessThanOrEqual(3);
      seen.push(...page.instances);
      cursor = page.cursor;
      pages += 1;
    } while (cursor !== undefined && pages < 10);

    expect(ids(seen)).toEqual(ids(active));
    expect(new Set(seen.map((key) => key.appId))).toEqual(new Set([appId]));
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('counts each state of one app, and of every app', async () => {
    const counts = await f.store.countByStatus({ appId });
    const all = await f.store.countByStatus({});

    expect(counts).toEqual({ [InstanceStatus.Active]: 7, [InstanceStatus.NeedsReauth]: 1, [InstanceStatus.Uninstalled]: 3 });
    expect(all[InstanceStatus.Active]).toBeGreaterThanOrEqual(8);
    expect(ids((await f.store.listByStatus({ status: InstanceStatus.Uninstalled, appId, limit: 100 })).instances)).toEqual(ids(removed));
  });

  it('follows a status change, and refuses a cursor it did not write for that state', async () => {
    const moving = newInstance(appId);
    await install(moving);
    await f.store.recordAppRemoved(moving, { eventAt: f.clock.now });
    const page = await f.store.listByStatus({ status: InstanceStatus.Active, appId, limit: 1 });

    expect((await f.store.countByStatus({ appId }))[InstanceStatus.Uninstalled]).toBe(4);
    await expect(
      f.store.listByStatus({ status: InstanceStatus.Uninstalled, appId, limit: 1, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) }),
    ).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    await expect(f.store.listByStatus({ status: InstanceStatus.Active, limit: 1, cursor: 'bm90LWEtY3Vyc29y' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
  });
});
