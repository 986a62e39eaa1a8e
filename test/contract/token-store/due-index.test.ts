import { DEFAULT_DUE_SHARDS, dueShardOf, type DueItem, type InstanceKey, type TokenStore } from '../../../lib/store';
import { createStoreFixture, failUnderLease, fakeToken, grantRefused, newInstance, storeUnderLease, STORE_KINDS, type StoreFixture } from '../../support/token-store';

const MINUTE = 60_000;

describe.each(STORE_KINDS)('%s token store: the sharded due index', (kind) => {
  let f: StoreFixture;
  let now: number;
  const due: InstanceKey[] = [];
  const notDue: InstanceKey[] = [];

  /** Reads every page; fails on a repeated item. */
  async function readAll(store: TokenStore, limit: number, startShard?: number): Promise<{ items: DueItem[]; pages: number }> {
    const items: DueItem[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.queryDue({ now, limit, ...(cursor === undefined ? {} : { cursor }), ...(startShard === undefined ? {} : { startShard }) });
      expect(page.items.length).toBeLessThanOrEqual(limit);
      items.push(...page.items);
      cursor = page.cursor;
      pages += 1;
    } while (cursor !== undefined);
    return { items, pages };
  }

  const ids = (items: readonly InstanceKey[]) => items.map((item) => `${item.appId}#${item.instanceId}`).sort();

  beforeAll(async () => {
    f = await createStoreFixture('due', kind);
    now = f.clock.now;
    const install = (key: InstanceKey, refreshDueAt: number | null) =>
      f.store.storeInstallTokens(key, {
        refreshToken: fakeToken('refresh'),
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: now + 5 * MINUTE,
        installedAt: now - 10 * MINUTE,
        refreshDueAt,
      });

    // 30 due (some exactly now), 10 due later, 5 never in the index, 5 removed by an uninstall,
    // 5 taken out by needs_reauth, 5 client-credentials instances with nothing stored.
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const key = newInstance();
        due.push(key);
        await install(key, i === 0 ? now : now - i * MINUTE);
      }),
    );
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const key = newInstance();
        notDue.push(key);
        await install(key, now + (i + 1) * MINUTE);
      }),
    );
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const key = newInstance();
        notDue.push(key);
        await install(key, null);
      }),
    );
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const key = newInstance();
        notDue.push(key);
        await install(key, now - MINUTE);
        await f.store.recordAppRemoved(key, { eventAt: now });
      }),
    );
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const key = newInstance();
        notDue.push(key);
        await install(key, now - MINUTE);
        await failUnderLease(f.store, key, 'sweep', grantRefused(now));
      }),
    );
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const key = newInstance();
        notDue.push(key);
        await f.store.recordAppInstalled(key, { eventAt: now });
      }),
    );
  });

  afterAll(async () => {
    await f.drop();
  });

  it('spreads the due instances over several shards', () => {
    const shards = new Set(due.map((key) => dueShardOf(key, DEFAULT_DUE_SHARDS)));

    expect(shards.size).toBeGreaterThan(8);
  });

  it('returns exactly the due items across shards, page by page, each once', async () => {
    const { items, pages } = await readAll(f.store, 7);

    expect(ids(items)).toEqual(ids(due));
    expect(ids(items).filter((id) => ids(notDue).includes(id))).toEqual([]);
    expect(new Set(ids(items)).size).toBe(items.length);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(due.length / 7));
    for (const item of items) expect(item.dueAt).toBeLessThanOrEqual(now);
  });

  it('returns the same set from any start shard', async () => {
    const { items } = await readAll(f.store, 4, 11);

    expect(ids(items)).toEqual(ids(due));
  });

  it('returns everything in one page when the limit allows', async () => {
    const page = await f.store.queryDue({ now, limit: 1000 });

    expect(ids(page.items)).toEqual(ids(due));
    expect(page.cursor).toBeUndefined();
  });

  it('includes the later ones once their time has come', async () => {
    const page = await f.store.queryDue({ now: now + 10 * MINUTE, limit: 1000 });

    expect(page.items).toHaveLength(due.length + 10);
  });

  it('moves an instance out of the due window when it is refreshed with a later due time', async () => {
    const key = due[0] as InstanceKey;
    await storeUnderLease(f.store, key, 'sweep', { accessTokenExpiresAt: now + 5 * MINUTE, refreshDueAt: now + 60 * MINUTE });

    const { items } = await readAll(f.store, 50);

    expect(ids(items)).toEqual(ids(due.slice(1)));
    due.shift();
    notDue.push(key);
  });

  it('rejects a cursor it did not write', async () => {
    await expect(f.store.queryDue({ now, limit: 5, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
  });
});
