import { randomUUID } from 'node:crypto';

import type { AppSecretsProvider } from '../../../../lib/secrets';
import {
  GrantKind,
  InstanceStatus,
  StoreUnavailableError,
  type DueItem,
  type InstanceRecord,
  type LeaseResult,
  type TokenStore,
} from '../../../../lib/store';
import type { RefreshDeps } from '../../../../lib/tokens/refresh';
import { sweep } from '../../../../lib/tokens/sweep';
import type { WixClient } from '../../../../lib/wix';

const APP_ID = randomUUID();
const START = Date.UTC(2030, 0, 1);

/** An in-memory store with just what the sweep uses; every instance is due, hot and client-credentials. */
interface FakeStoreOptions {
  /** Thrown by every index read from the `queryErrorFromPage`-th on (default: the first). */
  queryError?: Error;
  queryErrorFromPage?: number;
  now?: () => number;
  onQuery?: (unstarted: number) => void;
}

function fakeStore(count: number, options: FakeStoreOptions = {}) {
  const now = options.now ?? Date.now;
  const due: DueItem[] = Array.from({ length: count }, () => ({ appId: APP_ID, instanceId: randomUUID(), dueAt: START - 1 }));
  const written = new Set<string>();
  let handedOut = 0;
  let leased = 0;
  let pages = 0;
  const record = (item: DueItem): InstanceRecord => ({
    appId: item.appId,
    instanceId: item.instanceId,
    status: InstanceStatus.Active,
    grantKind: GrantKind.ClientCredentials,
    version: 1,
    createdAt: START,
    updatedAt: START,
    lastUsedAt: START,
    refreshDueAt: item.dueAt,
  });
  const store: Partial<TokenStore> = {
    async queryDue({ limit, cursor }) {
      // Items read from the index that no worker has taken a lease on yet.
      options.onQuery?.(handedOut - leased);
      pages += 1;
      if (options.queryError && pages >= (options.queryErrorFromPage ?? 1)) throw options.queryError;
      const from = cursor === undefined ? 0 : Number(cursor);
      const items = due.slice(from, from + limit);
      handedOut += items.length;
      return from + limit < due.length ? { items, cursor: String(from + limit) } : { items };
    },
    async acquireLease(key, { owner }): Promise<LeaseResult> {
      leased += 1;
      const item = due.find((candidate) => candidate.instanceId === key.instanceId) as DueItem;
      return { acquired: true, lease: { owner, expiresAt: now() + 10_000 }, record: record(item) };
    },
    async storeLeasedTokens(key) {
      written.add(key.instanceId);
      return record(due.find((candidate) => candidate.instanceId === key.instanceId) as DueItem);
    },
    async releaseLease() {
      return true;
    },
  };
  return { store: store as TokenStore, written, due };
}

const secrets: AppSecretsProvider = {
  get: async (appId) => ({ appId, appSecret: 'secret', webhookPublicKey: '', tokenKeys: { currentKeyId: 'k', keys: {} } }),
  getPrevious: async () => undefined,
  invalidate: () => undefined,
};

function deps(store: TokenStore, wix: Pick<WixClient, 'createAccessToken' | 'refreshAccessToken'>, now: () => number = Date.now): RefreshDeps {
  return {
    store,
    wix,
    secrets,
    now,
    random: () => 0.5,
    newLeaseOwner: randomUUID,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  };
}

function slowWix(delayMs: number, onCall: () => void = () => undefined) {
  let inFlight = 0;
  let maxInFlight = 0;
  const wix = {
    async createAccessToken() {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      onCall();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      inFlight -= 1;
      return { accessToken: 'OauthNG.JWS.x', tokenType: 'Bearer' as const, expiresAt: Date.now() + 4 * 3_600_000 };
    },
    refreshAccessToken: async () => {
      throw new Error('not a legacy test');
    },
  };
  return { wix, max: () => maxInFlight, inFlight: () => inFlight };
}

describe('sweep mechanics', () => {
  it('never has more Wix calls in flight than its concurrency, and reads the index a page ahead', async () => {
    const unstartedAtEachRead: number[] = [];
    const { store, written } = fakeStore(60, { onQuery: (unstarted) => unstartedAtEachRead.push(unstarted) });
    const { wix, max } = slowWix(5);

    const summary = await sweep(deps(store, wix), { budgetMs: 10_000, concurrency: 4, pageSize: 7, now: START });

    expect(max()).toBe(4);
    expect(summary).toMatchObject({ examined: 60, refreshed: 60, leftForNextRun: 0, complete: true });
    expect(written.size).toBe(60);
    // Every page after the first is asked for while read items still wait for a worker.
    expect(unstartedAtEachRead).toHaveLength(Math.ceil(60 / 7));
    expect(unstartedAtEachRead.slice(1).every((unstarted) => unstarted > 0)).toBe(true);
  });

  it('stops taking instances once the budget is spent and counts what it read but left', async () => {
    let clock = START;
    const { store, written } = fakeStore(50, { now: () => clock });
    // Each Wix call moves the fake clock 50 ms, a round of two 100 ms: the 350 ms budget fits four rounds.
    const { wix } = slowWix(1, () => {
      clock += 50;
    });

    const summary = await sweep(deps(store, wix, () => clock), { budgetMs: 350, concurrency: 2, pageSize: 10, now: START });

    expect(summary.refreshed).toBe(written.size);
    expect(summary.refreshed).toBeLessThan(50);
    expect(summary.complete).toBe(false);
    expect(summary.examined).toBe(summary.refreshed + summary.leftForNextRun);
    expect(summary.examined).toBeLessThanOrEqual(summary.refreshed + 10 + 2);
  });

  it('starts no Wix call too close to the hard deadline, leaving the instances due for the next run', async () => {
    const { store, written } = fakeStore(30, { now: () => START });
    let calls = 0;
    const { wix } = slowWix(1, () => {
      calls += 1;
    });

    const summary = await sweep(deps(store, wix, () => START), { budgetMs: 10_000, deadline: START + 500, concurrency: 3, now: START });

    expect(calls).toBe(0);
    expect(written.size).toBe(0);
    expect(summary).toMatchObject({ refreshed: 0, complete: false });
    expect(summary.leftForNextRun).toBe(summary.examined);
  });

  it('ends the walk early and incomplete when the due index is throttled', async () => {
    const { store } = fakeStore(5, { queryError: new StoreUnavailableError('ThrottlingException', 'queryDue', undefined) });
    const { wix } = slowWix(1);

    const summary = await sweep(deps(store, wix), { budgetMs: 10_000, concurrency: 2, now: START });

    expect(summary).toMatchObject({ examined: 0, refreshed: 0, complete: false });
  });

  it('refreshes what it already read when the due index is throttled mid-walk, and reports the run incomplete', async () => {
    const throttled = new StoreUnavailableError('ThrottlingException', 'queryDue', undefined);
    const { store, written } = fakeStore(30, { queryError: throttled, queryErrorFromPage: 3 });
    const { wix } = slowWix(1);

    const summary = await sweep(deps(store, wix), { budgetMs: 10_000, concurrency: 2, pageSize: 5, now: START });

    expect(summary).toMatchObject({ examined: 10, refreshed: 10, leftForNextRun: 0, complete: false });
    expect(written.size).toBe(10);
  });

  it('rethrows an unexpected error once the refreshes in flight have finished', async () => {
    const { store, written } = fakeStore(20);
    let calls = 0;
    const wix = {
      async createAccessToken() {
        calls += 1;
        if (calls === 3) throw new TypeError('a bug');
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { accessToken: 'OauthNG.JWS.x', tokenType: 'Bearer' as const, expiresAt: Date.now() + 4 * 3_600_000 };
      },
      refreshAccessToken: async () => {
        throw new Error('unused');
      },
    };

    const error = await sweep(deps(store, wix), { budgetMs: 10_000, concurrency: 3, now: START }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(TypeError);
    expect(written.size).toBe(2);
  });
});
