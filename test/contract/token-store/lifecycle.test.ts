import { ConflictReason, StaleEventError, TokenConflictError, type InstanceKey } from '../../../lib/store';
import { failUnderLease, fakeToken, grantRefused, newInstance, STORE_KINDS, useStoreFixture } from '../../support/token-store';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.each(STORE_KINDS)('%s token store: install, AppInstalled and AppRemoved ordering', (kind) => {
  const f = useStoreFixture('lifecycle', kind);
  let t0: number;

  beforeAll(() => {
    t0 = f.clock.now - DAY;
  });

  const installTokens = (installedAt: number, refreshToken = fakeToken('refresh')) => ({
    refreshToken,
    accessToken: fakeToken('access'),
    accessTokenExpiresAt: installedAt + 300_000,
    installedAt,
    refreshDueAt: installedAt + HOUR,
  });

  describe('AppInstalled', () => {
    it('records a new client-credentials instance with its origin instance', async () => {
      const key = newInstance();

      const result = await f.store.recordAppInstalled(key, { eventAt: t0, originInstanceId: 'origin-1' });

      expect(result).toMatchObject({
        outcome: 'applied',
        record: { ...key, status: 'active', grantKind: 'client_credentials', version: 1, lastEventAt: t0, originInstanceId: 'origin-1' },
      });
      expect(result.record.refreshDueAt).toBeUndefined();
    });

    it('issue 11 (found by the model-based run): a newer AppInstalled over a needs_reauth record that holds tokens puts it back in the due index', async () => {
      const key = newInstance();
      await f.store.storeInstallTokens(key, installTokens(t0));
      await failUnderLease(f.store, key, 'mint', grantRefused(f.clock.now));

      const result = await f.store.recordAppInstalled(key, { eventAt: t0 + HOUR });
      const after = await f.store.getInstance(key, { consistentRead: true });

      expect(result.outcome).toBe('applied');
      expect(after).toMatchObject({ status: 'active', grantKind: 'legacy', refreshDueAt: f.clock.now });
      expect(after?.lastError).toBeUndefined();
      const due = await f.store.queryDue({ now: f.clock.now, limit: 100 });
      expect(due.items.map((item) => item.instanceId)).toContain(key.instanceId);
    });

    it('treats a redelivered AppInstalled as a duplicate and changes nothing', async () => {
      const key = newInstance();
      await f.store.recordAppInstalled(key, { eventAt: t0 });

      const again = await f.store.recordAppInstalled(key, { eventAt: t0 });

      expect(again.outcome).toBe('duplicate');
      expect(again.record.version).toBe(1);
    });

    it('keeps the legacy grant and its tokens of an instance installed through the callback', async () => {
      const key = newInstance();
      const tokens = installTokens(t0);
      await f.store.storeInstallTokens(key, tokens);

      const result = await f.store.recordAppInstalled(key, { eventAt: t0 + 1000 });

      expect(result.outcome).toBe('applied');
      expect(result.record).toMatchObject({ grantKind: 'legacy', status: 'active', holdsTokens: true });
      expect(result.record).not.toHaveProperty('refreshToken');
      expect(await f.store.getInstance(key, { consistentRead: true })).toMatchObject({ refreshToken: tokens.refreshToken, accessToken: tokens.accessToken });
    });
  });

  describe('AppRemoved', () => {
    it('writes a tombstone: tokens, lease and due time removed, event time kept, purged after 90 days', async () => {
      const key = newInstance();
      await f.store.storeInstallTokens(key, installTokens(t0));
      await f.store.acquireLease(key, { owner: 'minter' });

      const result = await f.store.recordAppRemoved(key, { eventAt: t0 + 1000 });
      const stored = await f.store.getInstance(key, { consistentRead: true });

      expect(result.outcome).toBe('applied');
      expect(stored).toMatchObject({ status: 'uninstalled', lastEventAt: t0 + 1000, version: 2 });
      expect(stored?.refreshToken).toBeUndefined();
      expect(stored?.accessToken).toBeUndefined();
      expect(stored?.accessTokenExpiresAt).toBeUndefined();
      expect(stored?.lease).toBeUndefined();
      expect(stored?.refreshDueAt).toBeUndefined();
      expect(stored?.purgeAt).toBe(Math.ceil((f.clock.now + 90 * DAY) / 1000) * 1000);
      // DynamoDB's TTL reads epoch seconds; the memory store holds items as DynamoDB would.
      expect((await f.rawItem(key))?.ttl).toBe(Math.ceil((f.clock.now + 90 * DAY) / 1000));
    });

    it('treats a redelivered AppRemoved as a duplicate and changes nothing', async () => {
      const key = newInstance();
      await f.store.recordAppInstalled(key, { eventAt: t0 });
      await f.store.recordAppRemoved(key, { eventAt: t0 + 1000 });

      const again = await f.store.recordAppRemoved(key, { eventAt: t0 + 1000 });

      expect(again.outcome).toBe('duplicate');
      expect(again.record.version).toBe(2);
    });

    it('leaves a tombstone when AppRemoved arrives before anything else', async () => {
      const key = newInstance();

      const removed = await f.store.recordAppRemoved(key, { eventAt: t0 + 1000 });
      const lateInstall = await f.store.recordAppInstalled(key, { eventAt: t0 });

      expect(removed.outcome).toBe('applied');
      expect(lateInstall.outcome).toBe('stale');
      expect(lateInstall.record.status).toBe('uninstalled');
    });

    it('ignores an AppRemoved older than the install that followed it', async () => {
      const key = newInstance();
      const tokens = installTokens(t0 + 5000);
      await f.store.storeInstallTokens(key, tokens);

      const retried = await f.store.recordAppRemoved(key, { eventAt: t0 });

      expect(retried.outcome).toBe('stale');
      const stored = await f.store.getInstance(key, { consistentRead: true });
      expect(stored).toMatchObject({ status: 'active', refreshToken: tokens.refreshToken });
    });

    it('wins a tie with AppInstalled in either order of arrival', async () => {
      const removedFirst = newInstance();
      const installedFirst = newInstance();

      await f.store.recordAppRemoved(removedFirst, { eventAt: t0 });
      const installAfter = await f.store.recordAppInstalled(removedFirst, { eventAt: t0 });
      await f.store.recordAppInstalled(installedFirst, { eventAt: t0 });
      const removeAfter = await f.store.recordAppRemoved(installedFirst, { eventAt: t0 });

      expect(installAfter.outcome).toBe('stale');
      expect(removeAfter.outcome).toBe('applied');
      expect(removeAfter.record.status).toBe('uninstalled');
    });
  });

  describe('after an uninstall', () => {
    let key: InstanceKey;

    beforeEach(async () => {
      key = newInstance();
      await f.store.storeInstallTokens(key, installTokens(t0));
      await f.store.recordAppRemoved(key, { eventAt: t0 + 10_000 });
    });

    it('refuses an older AppInstalled (a late retry)', async () => {
      const result = await f.store.recordAppInstalled(key, { eventAt: t0 + 5000 });

      expect(result.outcome).toBe('stale');
      expect(result.record.status).toBe('uninstalled');
      expect(result.record.version).toBe(2);
    });

    it('revives the instance on a newer AppInstalled, on client credentials and without a purge time', async () => {
      const result = await f.store.recordAppInstalled(key, { eventAt: t0 + 20_000 });

      expect(result.outcome).toBe('applied');
      expect(result.record).toMatchObject({ status: 'active', grantKind: 'client_credentials', lastEventAt: t0 + 20_000 });
      expect(result.record.purgeAt).toBeUndefined();
      expect(result.record.holdsTokens).toBe(false);
      expect((await f.store.getInstance(key, { consistentRead: true }))?.refreshToken).toBeUndefined();
    });

    it('refuses the tokens of a code exchange the uninstall came after', async () => {
      const error = await f.store.storeInstallTokens(key, installTokens(t0 + 10_000)).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(StaleEventError);
      expect((error as StaleEventError).code).toBe('STALE_EVENT');
      const stored = await f.store.getInstance(key, { consistentRead: true });
      expect(stored?.status).toBe('uninstalled');
      expect(stored?.refreshToken).toBeUndefined();
    });

    it('revives the instance with the tokens of a later code exchange (a reinstall)', async () => {
      const tokens = installTokens(t0 + 20_000);

      const record = await f.store.storeInstallTokens(key, tokens);

      expect(record).toMatchObject({
        status: 'active',
        grantKind: 'legacy',
        refreshToken: tokens.refreshToken,
        lastEventAt: t0 + 20_000,
        refreshDueAt: tokens.refreshDueAt,
      });
      expect(record.purgeAt).toBeUndefined();
    });

    it('gives no lease, so a late mint or refresh cannot bring tokens back', async () => {
      const result = await f.store.acquireLease(key, { owner: 'late-mint', createIfMissing: true });

      expect(result).toMatchObject({ acquired: false, reason: 'uninstalled' });
    });

    it('refuses last-use writes on the tombstone', async () => {
      expect(await f.store.touchLastUsed(key, f.clock.now)).toBe(false);
    });
  });

  describe('issue 17: without the token cipher (what the webhooks function runs with)', () => {
    /** A store whose cipher cannot be had, counting every ask for it. */
    const cipherless = () => {
      const asked: string[] = [];
      const store = f.makeStore({
        cipherFor: async (appId) => {
          asked.push(appId);
          throw new Error('no token key ring here');
        },
      });
      return { store, asked };
    };

    it('records AppInstalled and AppRemoved on an instance holding tokens, never asking for the cipher', async () => {
      const key = newInstance();
      const tokens = installTokens(t0);
      await f.store.storeInstallTokens(key, tokens);
      const { store, asked } = cipherless();

      const installed = await store.recordAppInstalled(key, { eventAt: t0 + 1000 });
      const duplicate = await store.recordAppInstalled(key, { eventAt: t0 + 1000 });
      const removed = await store.recordAppRemoved(key, { eventAt: t0 + 2000 });

      expect(asked).toEqual([]);
      expect(installed).toMatchObject({ outcome: 'applied', record: { status: 'active', grantKind: 'legacy', holdsTokens: true, version: 2 } });
      expect(duplicate.outcome).toBe('duplicate');
      expect(removed).toMatchObject({ outcome: 'applied', record: { status: 'uninstalled', holdsTokens: false, lastEventAt: t0 + 2000 } });
      for (const answer of [installed, duplicate, removed]) {
        expect(answer.record).not.toHaveProperty('refreshToken');
        expect(answer.record).not.toHaveProperty('accessToken');
      }
      const stored = await f.store.getInstance(key, { consistentRead: true });
      expect(stored).toMatchObject({ status: 'uninstalled', version: 3 });
      expect(stored?.refreshToken).toBeUndefined();
    });

    it('answers a stale AppRemoved with the record as it stood, its tokens still sealed and untouched', async () => {
      const key = newInstance();
      const tokens = installTokens(t0 + 5000);
      await f.store.storeInstallTokens(key, tokens);
      const { store, asked } = cipherless();

      const stale = await store.recordAppRemoved(key, { eventAt: t0 });

      expect(asked).toEqual([]);
      expect(stale).toMatchObject({ outcome: 'stale', record: { status: 'active', holdsTokens: true } });
      expect(await f.store.getInstance(key, { consistentRead: true })).toMatchObject({ refreshToken: tokens.refreshToken, accessToken: tokens.accessToken });
    });

    it('still fails a token read without it, so the counting cipher above is one the store would have asked', async () => {
      const key = newInstance();
      await f.store.storeInstallTokens(key, installTokens(t0));
      const { store, asked } = cipherless();

      await expect(store.getInstance(key, { consistentRead: true })).rejects.toThrow('no token key ring here');
      expect(asked).toEqual([key.appId]);
    });
  });

  it('refuses the write of a holder that was minting when the uninstall landed', async () => {
    const key = newInstance();
    await f.store.storeInstallTokens(key, installTokens(t0));
    const held = await f.store.acquireLease(key, { owner: 'minter' });
    if (!held.acquired) throw new Error('arrange: no lease');
    await f.store.recordAppRemoved(key, { eventAt: t0 + 1000 });

    const error = await f.store
      .storeLeasedTokens(key, {
        owner: 'minter',
        expectedVersion: held.record.version,
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: f.clock.now + HOUR,
        refreshDueAt: f.clock.now + HOUR,
      })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TokenConflictError);
    expect((error as TokenConflictError).reason).toBe(ConflictReason.Uninstalled);
    expect((error as TokenConflictError).current?.status).toBe('uninstalled');
    const stored = await f.store.getInstance(key, { consistentRead: true });
    expect(stored?.accessToken).toBeUndefined();
    expect(stored?.refreshDueAt).toBeUndefined();
  });

  it('replaces the refresh token on a reinstall over an active instance and keeps the newest event time', async () => {
    const key = newInstance();
    await f.store.recordAppInstalled(key, { eventAt: t0 + 5000 });
    const tokens = installTokens(t0 + 4000);

    const first = await f.store.storeInstallTokens(key, tokens);
    const second = await f.store.storeInstallTokens(key, installTokens(t0 + 6000));

    expect(first).toMatchObject({ grantKind: 'legacy', refreshToken: tokens.refreshToken, lastEventAt: t0 + 5000, version: 2 });
    expect(second.refreshToken).not.toBe(tokens.refreshToken);
    expect(second).toMatchObject({ lastEventAt: t0 + 6000, version: 3 });
  });

  it('refuses the tokens of an older install callback stored after a newer one, keeping the newer refresh token', async () => {
    const key = newInstance();
    const newer = installTokens(t0 + 9000);
    await f.store.storeInstallTokens(key, newer);

    const error = await f.store.storeInstallTokens(key, installTokens(t0 + 6000)).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StaleEventError);
    const stored = await f.store.getInstance(key, { consistentRead: true });
    expect(stored).toMatchObject({ refreshToken: newer.refreshToken, lastInstallAt: t0 + 9000, version: 1 });
  });

  describe('a retried install callback (installId)', () => {
    it('returns the first write when the same install is stored twice, not superseded', async () => {
      const key = newInstance();
      const tokens = { ...installTokens(t0), installId: 'install-a' };

      const first = await f.store.storeInstallTokens(key, tokens);
      const retried = await f.store.storeInstallTokens(key, tokens);

      expect(retried).toEqual(first);
      expect(retried).toMatchObject({ version: 1, refreshToken: tokens.refreshToken, lastInstallAt: t0 });
      expect((await f.store.getInstance(key, { consistentRead: true }))?.version).toBe(1);
      expect((await f.rawItem(key))?.writer).toBe('install-a');
    });

    it('returns the first write to a retry carrying other token values (a re-encryption), keeping what was stored', async () => {
      const key = newInstance();
      const tokens = { ...installTokens(t0), installId: 'install-b' };
      const first = await f.store.storeInstallTokens(key, tokens);

      const retried = await f.store.storeInstallTokens(key, { ...tokens, accessToken: fakeToken('access') });

      expect(retried.version).toBe(first.version);
      expect(retried.accessToken).toBe(tokens.accessToken);
    });

    it('lets another install at the same Wix second replace the tokens (a tie: the callback that comes last wins), and refuses an older one', async () => {
      const key = newInstance();
      await f.store.storeInstallTokens(key, { ...installTokens(t0), installId: 'install-c' });
      const tied = { ...installTokens(t0), installId: 'install-d' };

      const replaced = await f.store.storeInstallTokens(key, tied);
      const error = await f.store.storeInstallTokens(key, { ...installTokens(t0 - 1000), installId: 'install-older' }).catch((e: unknown) => e);

      expect(replaced).toMatchObject({ version: 2, refreshToken: tied.refreshToken, lastInstallAt: t0 });
      expect(error).toBeInstanceOf(StaleEventError);
      expect((error as StaleEventError).reason).toBe('superseded');
    });

    it('recognises its own write after a lease holder moved the record on, rather than storing over it', async () => {
      const key = newInstance();
      const tokens = { ...installTokens(t0), installId: 'install-e' };
      await f.store.storeInstallTokens(key, tokens);
      const held = await f.store.acquireLease(key, { owner: 'refresher' });
      if (!held.acquired) throw new Error('arrange: no lease');
      const rotated = fakeToken('refresh');
      await f.store.storeLeasedTokens(key, {
        owner: 'refresher',
        expectedVersion: held.record.version,
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: f.clock.now + HOUR,
        refreshToken: rotated,
        refreshDueAt: null,
      });

      const retried = await f.store.storeInstallTokens(key, tokens);

      expect(retried).toMatchObject({ version: 2, refreshToken: rotated });
    });
  });
});
