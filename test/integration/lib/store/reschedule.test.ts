import { ConflictReason, TokenConflictError, type InstanceKey, type InstanceRecord } from '../../../../lib/store';
import { createStoreFixture, fakeToken, newInstance, type StoreFixture } from '../../../support/token-store';

const MINUTE = 60_000;

describe('DynamoDB token store: rescheduleLeased and writes after a lost lease', () => {
  let f: StoreFixture;

  beforeAll(async () => {
    f = await createStoreFixture('reschedule');
  });

  afterAll(async () => {
    await f.table.drop();
  });

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
    const lease = await f.store.acquireLease(key, ttlMs === undefined ? { owner } : { owner, ttlMs });
    if (!lease.acquired) throw new Error('arrange: no lease');
    return { key, record: lease.record };
  }

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

  it('stores a rotated refresh token with evenIfLeaseLost after the lease expired, nobody having written', async () => {
    const { key, record } = await leased('sweep', 1000);
    f.clock.now += 2000;
    const write = {
      owner: 'sweep',
      expectedVersion: record.version,
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 5 * MINUTE,
      refreshToken: fakeToken('refresh'),
      refreshDueAt: f.clock.now + 24 * 60 * MINUTE,
    };
    const plain = await f.store.storeLeasedTokens(key, write).catch((caught: unknown) => caught);

    const after = await f.store.storeLeasedTokens(key, { ...write, evenIfLeaseLost: true });

    expect((plain as TokenConflictError).reason).toBe(ConflictReason.LeaseLost);
    expect(after.refreshToken).toBe(write.refreshToken);
    expect(after.version).toBe(record.version + 1);
    expect(after.lease).toBeUndefined();
  });

  it('refuses evenIfLeaseLost once someone else has written', async () => {
    const { key, record } = await leased('sweep', 1000);
    f.clock.now += 2000;
    const taker = await f.store.acquireLease(key, { owner: 'mint' });
    if (!taker.acquired) throw new Error('arrange: no lease');
    await f.store.storeLeasedTokens(key, {
      owner: 'mint',
      expectedVersion: taker.record.version,
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 60 * MINUTE,
      refreshDueAt: null,
    });

    const error = await f.store
      .storeLeasedTokens(key, {
        owner: 'sweep',
        expectedVersion: record.version,
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: f.clock.now + 5 * MINUTE,
        refreshToken: fakeToken('refresh'),
        refreshDueAt: null,
        evenIfLeaseLost: true,
      })
      .catch((caught: unknown) => caught);

    expect((error as TokenConflictError).reason).toBe(ConflictReason.Version);
    expect((await f.store.getInstance(key, { consistentRead: true }))?.refreshToken).toBe(record.refreshToken);
  });
});
