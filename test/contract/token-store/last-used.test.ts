import { LAST_USED_RESOLUTION_MS, shouldTouchLastUsed } from '../../../lib/store';
import { fakeToken, installTokens, newInstance, STORE_KINDS, useStoreFixture } from '../../support/token-store';

describe.each(STORE_KINDS)('%s token store: touchLastUsed', (kind) => {
  const f = useStoreFixture('last-used', kind);

  it('writes at most once a minute, without bumping the version or touching a held lease', async () => {
    const key = newInstance();
    const installed = await f.store.storeInstallTokens(key, installTokens(f.clock.now));
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
    await f.store.storeInstallTokens(key, installTokens(f.clock.now));
    const held = await f.store.acquireLease(key, { owner: 'minter' });
    if (!held.acquired) throw new Error('arrange: no lease');
    await f.store.touchLastUsed(key, f.clock.now);

    const stored = await f.store.storeLeasedTokens(key, {
      owner: 'minter',
      expectedVersion: held.record.version,
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 3_600_000,
      refreshDueAt: f.clock.now + 3_000_000,
    });

    expect(stored.lastUsedAt).toBe(f.clock.now);
    expect(stored.version).toBe(held.record.version + 1);
  });

  describe('an instance used while a holder judges it dormant stays in the due index', () => {
    async function heldDormantCandidate() {
      const key = newInstance();
      const usedAt = f.clock.now - 40 * 24 * 3_600_000;
      await f.store.storeInstallTokens(key, installTokens(f.clock.now, { refreshDueAt: f.clock.now - 1 }));
      await f.store.touchLastUsed(key, usedAt);
      const held = await f.store.acquireLease(key, { owner: 'sweeper' });
      if (!held.acquired) throw new Error('arrange: no lease');
      return { key, record: held.record };
    }

    it('refuses the token write that would take it out, when a use was recorded after the read', async () => {
      const { key, record } = await heldDormantCandidate();
      await f.store.touchLastUsed(key, f.clock.now);

      const write = f.store.storeLeasedTokens(key, {
        owner: 'sweeper',
        expectedVersion: record.version,
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: f.clock.now + 3_600_000,
        refreshDueAt: null,
        lastUsedAtRead: record.lastUsedAt,
      });

      await expect(write).rejects.toMatchObject({ name: 'TokenConflictError', reason: 'version' });
      const after = await f.store.getInstance(key, { consistentRead: true });
      expect(after?.refreshDueAt).toBe(f.clock.now - 1);
      expect(after?.lease?.owner).toBe('sweeper');
    });

    it('refuses the reschedule out of the index the same way, and applies it when nobody used it', async () => {
      const used = await heldDormantCandidate();
      await f.store.touchLastUsed(used.key, f.clock.now);
      const unused = await heldDormantCandidate();
      const reschedule = (c: typeof used) =>
        f.store.rescheduleLeased(c.key, { owner: 'sweeper', expectedVersion: c.record.version, refreshDueAt: null, lastUsedAtRead: c.record.lastUsedAt });

      await expect(reschedule(used)).rejects.toMatchObject({ name: 'TokenConflictError', reason: 'version' });
      await reschedule(unused);

      expect((await f.store.getInstance(used.key, { consistentRead: true }))?.refreshDueAt).toBe(f.clock.now - 1);
      expect((await f.store.getInstance(unused.key, { consistentRead: true }))?.refreshDueAt).toBeUndefined();
    });

    it('puts an instance out of the index back in, due now, and leaves a due time alone', async () => {
      const out = await heldDormantCandidate();
      await f.store.rescheduleLeased(out.key, { owner: 'sweeper', expectedVersion: out.record.version, refreshDueAt: null, lastUsedAtRead: out.record.lastUsedAt });
      const inIndex = await heldDormantCandidate();

      await f.store.touchLastUsed(out.key, f.clock.now);
      await f.store.touchLastUsed(inIndex.key, f.clock.now);

      const page = await f.store.queryDue({ now: f.clock.now, limit: 100 });
      const due = (key: { instanceId: string }) => page.items.find((item) => item.instanceId === key.instanceId)?.dueAt;
      expect(due(out.key)).toBe(f.clock.now);
      expect(due(inIndex.key)).toBe(f.clock.now - 1);
    });
  });

  it('creates nothing for an unknown instance', async () => {
    const key = newInstance();

    const touched = await f.store.touchLastUsed(key, f.clock.now);

    expect(touched).toBe(false);
    expect(await f.store.getInstance(key, { consistentRead: true })).toBeUndefined();
  });
});
