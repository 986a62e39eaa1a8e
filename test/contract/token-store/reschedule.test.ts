import { ConflictReason, TokenConflictError, type InstanceKey, type InstanceRecord, type Lease } from '../../../lib/store';
import { LEASE_CLOCK_SKEW_MS } from '../../../lib/store';
import { DAY, MINUTE } from '../../support/time';
import { fakeToken, newInstance, storeUnderLease, STORE_KINDS, takeLease, useStoreFixture } from '../../support/token-store';

describe.each(STORE_KINDS)('%s token store: rescheduleLeased, deferDue and rotated tokens after a lost lease', (kind) => {
  const f = useStoreFixture('reschedule', kind);

  /** An installed legacy instance, due a minute ago, leased by `owner`. */
  async function leased(owner: string, ttlMs?: number): Promise<{ key: InstanceKey; record: InstanceRecord }> {
    const key = newInstance();
    await f.store.storeInstallTokens(key, {
      refreshToken: fakeToken('refresh'),
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 5 * MINUTE,
      installedAt: f.clock.now,
      refreshDueAt: f.clock.now - MINUTE,
    });
    return { key, record: await takeLease(f.store, key, ttlMs === undefined ? { owner } : { owner, ttlMs }) };
  }

  /** The sweep's write of a rotated refresh token over `record`, due again at `refreshDueAt`. */
  const rotation = (record: InstanceRecord, refreshDueAt: number | null = f.clock.now + DAY) => ({
    owner: 'sweep',
    expectedVersion: record.version,
    accessToken: fakeToken('access'),
    accessTokenExpiresAt: f.clock.now + 5 * MINUTE,
    refreshToken: fakeToken('refresh'),
    refreshDueAt,
  });

  async function isDue(key: InstanceKey, at: number): Promise<boolean> {
    const page = await f.store.queryDue({ now: at, limit: 1000 });
    return page.items.some((item) => item.instanceId === key.instanceId);
  }

  it('takes a leased instance out of the due index and frees the lease, leaving version and tokens alone', async () => {
    const { key, record } = await leased('sweep');

    const after = await f.store.rescheduleLeased(key, { owner: 'sweep', expectedVersion: record.version, refreshDueAt: null });

    expect(after.refreshDueAt).toBeUndefined();
    expect(after.lease).toBeUndefined();
    expect(after.version).toBe(record.version);
    expect(after.refreshToken).toBe(record.refreshToken);
    expect(after.accessToken).toBe(record.accessToken);
    expect(await isDue(key, f.clock.now)).toBe(false);
  });

  it('moves a leased instance to a new due time', async () => {
    const { key, record } = await leased('sweep');

    const after = await f.store.rescheduleLeased(key, { owner: 'sweep', expectedVersion: record.version, refreshDueAt: f.clock.now + 10 * MINUTE });

    expect(after.refreshDueAt).toBe(f.clock.now + 10 * MINUTE);
    expect(await isDue(key, f.clock.now)).toBe(false);
    expect(await isDue(key, f.clock.now + 10 * MINUTE)).toBe(true);
  });

  it('refuses a caller that does not hold the lease', async () => {
    const { key, record } = await leased('sweep');

    const error = await f.store
      .rescheduleLeased(key, { owner: 'someone-else', expectedVersion: record.version, refreshDueAt: null })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(TokenConflictError);
    expect((error as TokenConflictError).reason).toBe(ConflictReason.LeaseLost);
    expect(await isDue(key, f.clock.now)).toBe(true);
  });

  it('refuses when the record moved on under the lease (a reinstall)', async () => {
    const { key, record } = await leased('sweep');
    await f.store.storeInstallTokens(key, {
      refreshToken: fakeToken('refresh'),
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 5 * MINUTE,
      installedAt: f.clock.now + 1,
      refreshDueAt: f.clock.now - MINUTE,
    });

    const error = await f.store
      .rescheduleLeased(key, { owner: 'sweep', expectedVersion: record.version, refreshDueAt: null })
      .catch((caught: unknown) => caught);

    expect((error as TokenConflictError).reason).toBe(ConflictReason.Version);
    expect(await isDue(key, f.clock.now)).toBe(true);
  });

  it('stores a rotated refresh token with storeRotatedTokens after the lease expired, nobody having written', async () => {
    const { key, record } = await leased('sweep', 1000);
    f.clock.now += 2000;
    const write = rotation(record);
    const plain = await f.store.storeLeasedTokens(key, write).catch((caught: unknown) => caught);

    const after = await f.store.storeRotatedTokens(key, write);

    expect((plain as TokenConflictError).reason).toBe(ConflictReason.LeaseLost);
    expect(after.refreshToken).toBe(write.refreshToken);
    expect(after.version).toBe(record.version + 1);
    expect(after.lease).toBeUndefined();
  });

  it('stores a rotated refresh token with storeRotatedTokens while still holding the lease, releasing it', async () => {
    const { key, record } = await leased('sweep');
    const write = rotation(record, null);

    const after = await f.store.storeRotatedTokens(key, write);
    const retried = await f.store.storeRotatedTokens(key, write);

    expect(after).toMatchObject({ refreshToken: write.refreshToken, version: record.version + 1 });
    expect(after.lease).toBeUndefined();
    expect(retried).toEqual(after);
  });

  it('refuses storeRotatedTokens once someone else has written', async () => {
    const { key, record } = await leased('sweep', 1000);
    f.clock.now += 2000 + LEASE_CLOCK_SKEW_MS;
    await storeUnderLease(f.store, key, 'mint', { accessTokenExpiresAt: f.clock.now + 60 * MINUTE, refreshDueAt: null });

    const error = await f.store.storeRotatedTokens(key, rotation(record, null)).catch((caught: unknown) => caught);

    expect((error as TokenConflictError).reason).toBe(ConflictReason.Version);
    expect((await f.store.getInstance(key, { consistentRead: true }))?.refreshToken).toBe(record.refreshToken);
  });

  describe('storeRotatedTokens with another caller holding a live lease', () => {
    /** The sweep's lease ran out and a mint took it over without writing yet. */
    async function takenOver(): Promise<{ key: InstanceKey; record: InstanceRecord; holder: Lease }> {
      const { key, record } = await leased('sweep', 1000);
      f.clock.now += 2000 + LEASE_CLOCK_SKEW_MS;
      const taker = await f.store.acquireLease(key, { owner: 'mint', ttlMs: 10_000 });
      if (!taker.acquired) throw new Error('arrange: no lease');
      return { key, record, holder: taker.lease };
    }

    it('stores the rotated token and leaves the live holder lease in place; that holder write then fails on the version', async () => {
      const { key, record, holder } = await takenOver();
      const write = rotation(record);

      const after = await f.store.storeRotatedTokens(key, { ...write, liveHolder: holder });
      const holderWrite = await f.store
        .storeLeasedTokens(key, {
          owner: 'mint',
          expectedVersion: record.version,
          accessToken: fakeToken('access'),
          accessTokenExpiresAt: f.clock.now + 60 * MINUTE,
          refreshDueAt: null,
        })
        .catch((caught: unknown) => caught);

      expect(after).toMatchObject({ refreshToken: write.refreshToken, version: record.version + 1, lease: holder });
      expect(holderWrite).toBeInstanceOf(TokenConflictError);
      expect((holderWrite as TokenConflictError).reason).toBe(ConflictReason.Version);
      expect((holderWrite as TokenConflictError).current?.refreshToken).toBe(write.refreshToken);
      const stored = await f.store.getInstance(key, { consistentRead: true });
      expect(stored).toMatchObject({ refreshToken: write.refreshToken, version: record.version + 1, lease: holder });
      expect(await f.store.releaseLease(key, 'mint')).toBe(true);
    });

    it('refuses without liveHolder while another caller holds a live lease, and leaves that lease alone', async () => {
      const { key, record, holder } = await takenOver();

      const error = await f.store.storeRotatedTokens(key, rotation(record)).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(TokenConflictError);
      expect((error as TokenConflictError).reason).toBe(ConflictReason.Version);
      const stored = await f.store.getInstance(key, { consistentRead: true });
      expect(stored).toMatchObject({ refreshToken: record.refreshToken, version: record.version, lease: holder });
    });

    it('refuses when the lease changed hands since the read (liveHolder is not the holder any more)', async () => {
      const { key, record, holder } = await takenOver();
      f.clock.now += 10_000 + LEASE_CLOCK_SKEW_MS;
      const next = await f.store.acquireLease(key, { owner: 'next-mint' });
      if (!next.acquired) throw new Error('arrange: no lease');

      const error = await f.store.storeRotatedTokens(key, { ...rotation(record), liveHolder: holder }).catch((caught: unknown) => caught);

      expect((error as TokenConflictError).reason).toBe(ConflictReason.Version);
      const stored = await f.store.getInstance(key, { consistentRead: true });
      expect(stored).toMatchObject({ refreshToken: record.refreshToken, version: record.version, lease: next.lease });
    });
  });

  describe('deferDue', () => {
    it('moves only the due time it saw, without the lease, leaving version and tokens alone', async () => {
      const { key, record } = await leased('sweep');
      await f.store.releaseLease(key, 'sweep');
      const seenDueAt = record.refreshDueAt as number;

      const moved = await f.store.deferDue(key, { seenDueAt, dueAt: f.clock.now + 30 * MINUTE });
      const again = await f.store.deferDue(key, { seenDueAt, dueAt: f.clock.now + 60 * MINUTE });
      const after = await f.store.getInstance(key, { consistentRead: true });

      expect([moved, again]).toEqual([true, false]);
      expect(after?.refreshDueAt).toBe(f.clock.now + 30 * MINUTE);
      expect(after?.version).toBe(record.version);
      expect(after?.refreshToken).toBe(record.refreshToken);
      expect(after?.lease).toBeUndefined();
      expect(await isDue(key, f.clock.now)).toBe(false);
      expect(await isDue(key, f.clock.now + 30 * MINUTE)).toBe(true);
    });

    it('refuses while a live lease is held, and moves the due time once that lease expired by more than the clock skew', async () => {
      const { key, record } = await leased('sweep', 1000);
      const seenDueAt = record.refreshDueAt as number;

      const whileHeld = await f.store.deferDue(key, { seenDueAt, dueAt: f.clock.now + 30 * MINUTE });
      const heldRecord = await f.store.getInstance(key, { consistentRead: true });
      f.clock.now += 1000 + LEASE_CLOCK_SKEW_MS;
      const afterExpiry = await f.store.deferDue(key, { seenDueAt, dueAt: f.clock.now + 30 * MINUTE });
      const after = await f.store.getInstance(key, { consistentRead: true });

      expect(whileHeld).toBe(false);
      expect(heldRecord?.refreshDueAt).toBe(seenDueAt);
      expect(heldRecord?.lease?.owner).toBe('sweep');
      expect(afterExpiry).toBe(true);
      expect(after?.refreshDueAt).toBe(f.clock.now + 30 * MINUTE);
      // The expired lease is left as it was (deferDue never touches the lease).
      expect(after?.lease?.owner).toBe('sweep');
    });

    it('refuses on a tombstone and puts nothing back in the due index', async () => {
      const { key, record } = await leased('sweep');
      const seenDueAt = record.refreshDueAt as number;
      await f.store.recordAppRemoved(key, { eventAt: f.clock.now + 1 });

      const deferred = await f.store.deferDue(key, { seenDueAt, dueAt: f.clock.now + 30 * MINUTE });
      const raw = await f.rawItem(key);

      expect(deferred).toBe(false);
      expect(raw?.status).toBe('uninstalled');
      expect(raw?.dueAt).toBeUndefined();
      expect(raw?.dueShard).toBeUndefined();
    });

    it('refuses on an unknown instance and creates nothing', async () => {
      const key = newInstance();

      const deferred = await f.store.deferDue(key, { seenDueAt: f.clock.now, dueAt: f.clock.now + 30 * MINUTE });

      expect(deferred).toBe(false);
      expect(await f.rawItem(key)).toBeUndefined();
    });
  });
});
