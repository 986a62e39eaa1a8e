import {
  ConflictReason,
  InstanceStatus,
  LeaseWaitTimeoutError,
  TokenConflictError,
  type InstanceKey,
  type InstanceRecord,
  type TokenStore,
} from '../../../lib/store';
import { LEASE_CLOCK_SKEW_MS } from '../../../lib/store';
import {
  failUnderLease,
  fakeToken,
  installTokens,
  grantRefused,
  newInstance,
  STORE_KINDS,
  takeLease,
  useStoreFixture,
  wixUnavailable,
  type StorageCall,
  type StoreOverrides,
} from '../../support/token-store';

const HOUR = 3_600_000;

describe.each(STORE_KINDS)('%s token store: versions and leases', (kind) => {
  const f = useStoreFixture('lease', kind);

  /** An installed legacy instance at version 1. */
  async function installed(key: InstanceKey = newInstance()): Promise<{ key: InstanceKey; record: InstanceRecord }> {
    const record = await f.store.storeInstallTokens(key, installTokens(f.clock.now, { refreshDueAt: f.clock.now + HOUR }));
    return { key, record };
  }

  /** Acquires or throws: for arranging. */
  async function lease(key: InstanceKey, owner: string, store: TokenStore = f.store, ttlMs?: number): Promise<InstanceRecord> {
    return takeLease(store, key, ttlMs === undefined ? { owner } : { owner, ttlMs });
  }

  /** The holder's write of a fresh access token good for an hour; out of the due index unless `extra` says otherwise. */
  function leasedWrite(held: InstanceRecord, owner: string, extra: { refreshToken?: string; refreshDueAt?: number | null } = {}) {
    return { owner, expectedVersion: held.version, accessToken: fakeToken('access'), accessTokenExpiresAt: f.clock.now + HOUR, refreshDueAt: null, ...extra };
  }

  /** An installed instance leased by `owner` through a store on a clock of its own, which the test moves by hand. */
  async function leasedOnOwnClock(owner: string, storeOptions: StoreOverrides = {}, ttlMs?: number) {
    const { key } = await installed();
    const clock = { now: f.clock.now };
    const store = f.makeStore({ now: () => clock.now, ...storeOptions });
    const held = await lease(key, owner, store, ttlMs);
    return { key, clock, store, held };
  }

  describe('racing writers', () => {
    it('loses no update when two writers take turns through the lease', async () => {
      const { key, record } = await installed();
      const rounds = 10;
      const written: string[] = [];

      const writer = async (name: string) => {
        for (let i = 0; i < rounds; ) {
          const result = await f.store.acquireLease(key, { owner: `${name}-${i}` });
          if (!result.acquired) {
            if (result.reason !== 'held') throw new Error(result.reason);
            await f.store.waitForRelease(key, { sinceVersion: result.record.version, timeoutMs: 5000, intervalMs: 5 });
            continue;
          }
          const token = `${name}-${i}`;
          await f.store.storeLeasedTokens(key, {
            owner: `${name}-${i}`,
            expectedVersion: result.record.version,
            accessToken: token,
            accessTokenExpiresAt: f.clock.now + HOUR,
            refreshDueAt: f.clock.now + HOUR,
          });
          written.push(token);
          i += 1;
        }
      };
      await Promise.all([writer('a'), writer('b')]);

      const final = await f.store.getInstance(key, { consistentRead: true });
      expect(written).toHaveLength(2 * rounds);
      expect(final?.version).toBe(record.version + 2 * rounds);
      expect(final?.accessToken).toBe(written.at(-1));
      expect(final?.lease).toBeUndefined();
    });

    it('keeps the install callback refresh token when a lease holder writes at the same time', async () => {
      const keys = await Promise.all(Array.from({ length: 8 }, () => installed()));
      const newRefreshTokens = keys.map(() => fakeToken('refresh'));

      await Promise.all(
        keys.map(async ({ key }, i) => {
          const held = await lease(key, `holder-${i}`);
          const holderWrite = f.store
            .storeLeasedTokens(key, {
              owner: `holder-${i}`,
              expectedVersion: held.version,
              accessToken: fakeToken('access'),
              accessTokenExpiresAt: f.clock.now + HOUR,
              refreshToken: fakeToken('refresh'),
              refreshDueAt: f.clock.now + HOUR,
            })
            .then(
              () => 'stored',
              (error: unknown) => (error instanceof TokenConflictError ? 'refused' : Promise.reject(error)),
            );
          const reinstall = f.store.storeInstallTokens(
            key,
            installTokens(f.clock.now + 1, { refreshToken: newRefreshTokens[i] as string, accessTokenExpiresAt: f.clock.now + 300_000, refreshDueAt: f.clock.now + HOUR }),
          );
          const [holderOutcome] = await Promise.all([holderWrite, reinstall]);
          const final = await f.store.getInstance(key, { consistentRead: true });
          expect(final?.refreshToken).toBe(newRefreshTokens[i]);
          // Each applied write bumped the version once: the reinstall, plus the holder's when it got in first.
          expect(final?.version).toBe(held.version + (holderOutcome === 'stored' ? 2 : 1));
        }),
      );
    });

    it('refuses a write on a version someone else already moved past, carrying their record from that one call', async () => {
      const { key } = await installed();
      const held = await lease(key, 'slow');
      const newer = fakeToken('refresh');
      await f.store.storeInstallTokens(key, installTokens(f.clock.now + 1, { refreshToken: newer, accessTokenExpiresAt: f.clock.now + 300_000 }));
      const calls: StorageCall[] = [];
      const store = f.makeStore({ onCall: (call) => calls.push(call) });

      const error = await store
        .storeLeasedTokens(key, {
          owner: 'slow',
          expectedVersion: held.version,
          accessToken: fakeToken('access'),
          accessTokenExpiresAt: f.clock.now + HOUR,
          refreshDueAt: f.clock.now + HOUR,
        })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(TokenConflictError);
      expect((error as TokenConflictError).code).toBe('TOKEN_CONFLICT');
      expect((error as TokenConflictError).reason).toBe(ConflictReason.Version);
      expect((error as TokenConflictError).current?.refreshToken).toBe(newer);
      expect((error as TokenConflictError).current?.version).toBe(held.version + 1);
      expect(calls).toEqual(['write']);
    });
  });

  describe('acquireLease', () => {
    it('gives the lease to exactly one of many concurrent callers', async () => {
      const { key } = await installed();

      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => f.store.acquireLease(key, { owner: `caller-${i}` })),
      );

      const winners = results.filter((r) => r.acquired);
      expect(winners).toHaveLength(1);
      const winner = winners[0];
      if (winner === undefined || !winner.acquired) throw new Error('unreachable');
      for (const loser of results.filter((r) => !r.acquired)) {
        expect(loser).toMatchObject({ acquired: false, reason: 'held', holder: winner.lease });
      }
    });

    it('reports who holds the lease and until when', async () => {
      const { key } = await installed();
      await lease(key, 'first', f.store, 8000);

      const result = await f.store.acquireLease(key, { owner: 'second' });

      expect(result).toMatchObject({ acquired: false, reason: 'held', holder: { owner: 'first', expiresAt: f.clock.now + 8000 } });
    });

    it('takes over a lease whose holder died once it has expired by more than the clock skew, not before', async () => {
      const { key, clock, store } = await leasedOnOwnClock('dead', { leaseTtlMs: 10_000 });

      clock.now += 10_000 + LEASE_CLOCK_SKEW_MS - 1;
      const early = await store.acquireLease(key, { owner: 'heir' });
      clock.now += 1;
      const onTime = await store.acquireLease(key, { owner: 'heir' });

      expect(early).toMatchObject({ acquired: false, reason: 'held' });
      expect(onTime).toMatchObject({ acquired: true, lease: { owner: 'heir', expiresAt: clock.now + 10_000 } });
    });

    it('issue 11: never takes over a lease its holder may still be using by its own clock, up to 5 s ahead of ours', async () => {
      const { key } = await installed();
      const holderClock = { now: f.clock.now - 4_000 };
      const ours = { now: f.clock.now };
      const holder = f.makeStore({ now: () => holderClock.now, leaseTtlMs: 5_000 });
      const taker = f.makeStore({ now: () => ours.now, leaseTtlMs: 5_000 });
      const held = await lease(key, 'behind', holder);

      // By our clock the holder's lease ended a second ago; by its own it has four seconds left.
      ours.now += 2_000;
      holderClock.now += 2_000;
      const refused = await taker.acquireLease(key, { owner: 'ahead' });

      expect(refused).toMatchObject({ acquired: false, reason: 'held', holder: { owner: 'behind' } });
      const stored = await holder.storeLeasedTokens(key, {
        owner: 'behind',
        expectedVersion: held.version,
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: ours.now + 3_600_000,
        refreshDueAt: null,
      });
      expect(stored.version).toBe(held.version + 1);
    });

    it('issue 11: takes over exactly the lease a waiter watched run out on its own clock (takeOver), and no other', async () => {
      const { key, store } = await leasedOnOwnClock('dead', { leaseTtlMs: 5_000 });
      const seen = (await store.getInstance(key, { consistentRead: true }))?.lease;
      if (seen === undefined) throw new Error('arrange: no lease');

      const wrong = await store.acquireLease(key, { owner: 'heir', takeOver: { owner: 'dead', expiresAt: seen.expiresAt + 1 } });
      const right = await store.acquireLease(key, { owner: 'heir', takeOver: seen });

      expect(wrong).toMatchObject({ acquired: false, reason: 'held' });
      expect(right).toMatchObject({ acquired: true, lease: { owner: 'heir' } });
    });

    it('refuses the write of a holder whose lease was taken over, and keeps the new holder lease', async () => {
      const { key, clock, store, held: stale } = await leasedOnOwnClock('stale', {}, 1000);
      clock.now += 1000 + LEASE_CLOCK_SKEW_MS;
      await lease(key, 'heir', store, 1000);

      const error = await store
        .storeLeasedTokens(key, {
          owner: 'stale',
          expectedVersion: stale.version,
          accessToken: fakeToken('access'),
          accessTokenExpiresAt: clock.now + HOUR,
          refreshDueAt: null,
        })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(TokenConflictError);
      expect((error as TokenConflictError).reason).toBe(ConflictReason.LeaseLost);
      expect((error as TokenConflictError).current?.lease?.owner).toBe('heir');
      const after = await store.getInstance(key, { consistentRead: true });
      expect(after?.version).toBe(stale.version);
      expect(after?.accessToken).toBe(stale.accessToken);
    });

    it('refuses the write of a holder whose lease expired even when nobody took over', async () => {
      const { key, clock, store, held } = await leasedOnOwnClock('late', {}, 1000);
      clock.now += 1000;

      const error = await store
        .recordFailure(key, { ...wixUnavailable(clock.now, clock.now + 60_000), owner: 'late', expectedVersion: held.version })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(TokenConflictError);
      expect((error as TokenConflictError).reason).toBe(ConflictReason.LeaseLost);
    });

    it('creates a bare client-credentials record when asked and none exists', async () => {
      const key = newInstance();

      const missing = await f.store.acquireLease(key, { owner: 'x' });
      const created = await f.store.acquireLease(key, { owner: 'x', createIfMissing: true });

      expect(missing).toEqual({ acquired: false, reason: 'not_found' });
      expect(created).toMatchObject({
        acquired: true,
        record: { ...key, status: 'active', grantKind: 'client_credentials', version: 0, lease: { owner: 'x' } },
      });
      // Issue 17: the event-time floor, its creation time less the clock skew (no older webhook applies).
      if (created.acquired) expect(created.record.lastEventAt).toBe(created.record.createdAt - LEASE_CLOCK_SKEW_MS);
    });
  });

  describe('storeLeasedTokens and recordFailure', () => {
    it('stores a refreshed token with the new refresh token and due time, and releases the lease in the same write', async () => {
      const { key, record } = await installed();
      const held = await lease(key, 'refresher');
      const access = fakeToken('access');
      const refresh = fakeToken('refresh');

      const stored = await f.store.storeLeasedTokens(key, {
        owner: 'refresher',
        expectedVersion: held.version,
        accessToken: access,
        accessTokenExpiresAt: f.clock.now + 300_000,
        refreshToken: refresh,
        refreshDueAt: f.clock.now + 2 * HOUR,
      });

      expect(stored).toMatchObject({
        accessToken: access,
        refreshToken: refresh,
        version: record.version + 1,
        refreshDueAt: f.clock.now + 2 * HOUR,
        status: 'active',
      });
      expect(stored.lease).toBeUndefined();
    });

    it('records a failure with a growing count, a backoff due time and needs_reauth, then clears it on success', async () => {
      const { key } = await installed();
      await failUnderLease(f.store, key, 'r1', wixUnavailable(f.clock.now, f.clock.now + 30_000));

      const failed = await failUnderLease(f.store, key, 'r2', grantRefused(f.clock.now + 1));
      const held = await lease(key, 'r3');
      const recovered = await f.store.storeLeasedTokens(key, {
        owner: 'r3',
        expectedVersion: held.version,
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: f.clock.now + HOUR,
        grantKind: 'client_credentials',
        refreshDueAt: f.clock.now + HOUR,
      });

      expect(failed).toMatchObject({
        status: InstanceStatus.NeedsReauth,
        lastError: { kind: 'grant_invalid', code: 'WIX_INVALID_GRANT', at: f.clock.now + 1, count: 2 },
      });
      expect(failed.refreshDueAt).toBeUndefined();
      expect(failed.lease).toBeUndefined();
      expect(recovered).toMatchObject({ status: 'active', grantKind: 'client_credentials' });
      expect(recovered.lastError).toBeUndefined();
    });

    it('returns the record, not a conflict, when a leased write is retried after it applied (its answer was lost)', async () => {
      const { key, record } = await installed();
      const held = await lease(key, 'retrier');
      const write = leasedWrite(held, 'retrier', { refreshToken: fakeToken('refresh'), refreshDueAt: f.clock.now + 2 * HOUR });

      const first = await f.store.storeLeasedTokens(key, write);
      const retried = await f.store.storeLeasedTokens(key, write);

      expect(retried).toEqual(first);
      expect(retried).toMatchObject({ version: record.version + 1, accessToken: write.accessToken, refreshToken: write.refreshToken });
      expect((await f.store.getInstance(key, { consistentRead: true }))?.version).toBe(record.version + 1);
    });

    it('returns the record when a failure record is retried after it applied, without counting the failure twice', async () => {
      const { key, record } = await installed();
      const held = await lease(key, 'retrier');
      const failure = { ...wixUnavailable(f.clock.now, f.clock.now + 30_000), owner: 'retrier', expectedVersion: held.version };

      const first = await f.store.recordFailure(key, failure);
      const retried = await f.store.recordFailure(key, failure);

      expect(retried).toEqual(first);
      expect(retried).toMatchObject({ version: record.version + 1, lastError: { count: 1 } });
    });

    it('still refuses a retried leased write once someone else wrote after it', async () => {
      const { key } = await installed();
      const held = await lease(key, 'retrier');
      const write = leasedWrite(held, 'retrier');
      await f.store.storeLeasedTokens(key, write);
      const next = await lease(key, 'next');
      await f.store.storeLeasedTokens(key, { ...write, owner: 'next', expectedVersion: next.version, accessToken: fakeToken('access') });

      const error = await f.store.storeLeasedTokens(key, write).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(TokenConflictError);
      expect((error as TokenConflictError).reason).toBe(ConflictReason.Version);
    });

    it('lets only the owner release a lease', async () => {
      const { key } = await installed();
      await lease(key, 'owner');

      const byOther = await f.store.releaseLease(key, 'other');
      const stillHeld = await f.store.getInstance(key, { consistentRead: true });
      const byOwner = await f.store.releaseLease(key, 'owner');
      const after = await f.store.getInstance(key, { consistentRead: true });

      expect(byOther).toBe(false);
      expect(stillHeld?.lease?.owner).toBe('owner');
      expect(byOwner).toBe(true);
      expect(after?.lease).toBeUndefined();
      expect(after?.version).toBe(stillHeld?.version);
    });
  });

  describe('getStatus', () => {
    it('reads the status projection, with last use and last error, and never a token', async () => {
      const { key, record } = await installed();
      await failUnderLease(f.store, key, 'r1', wixUnavailable(f.clock.now, f.clock.now + 30_000));
      await f.store.touchLastUsed(key, f.clock.now);

      const view = await f.store.getStatus(key);

      expect(view).toEqual({
        ...key,
        status: InstanceStatus.Active,
        version: record.version + 1,
        lastUsedAt: f.clock.now,
        lastError: { kind: 'transient', code: 'WIX_UNAVAILABLE', at: f.clock.now, count: 1 },
      });
      expect(Object.keys(view ?? {}).sort()).toEqual(['appId', 'instanceId', 'lastError', 'lastUsedAt', 'status', 'version']);
    });

    it('reads a tombstone status and nothing for an unknown instance', async () => {
      const { key } = await installed();
      await f.store.recordAppRemoved(key, { eventAt: f.clock.now });

      const removed = await f.store.getStatus(key);
      const unknown = await f.store.getStatus(newInstance());

      expect(removed).toEqual({ ...key, status: InstanceStatus.Uninstalled, version: 2 });
      expect(unknown).toBeUndefined();
    });
  });

  describe('waitForRelease', () => {
    it('returns the winner record once the holder has written', async () => {
      const { key } = await installed();
      const held = await lease(key, 'winner');
      const access = fakeToken('access');

      const waiting = f.store.waitForRelease(key, { sinceVersion: held.version, timeoutMs: 5000, intervalMs: 20 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await f.store.storeLeasedTokens(key, {
        owner: 'winner',
        expectedVersion: held.version,
        accessToken: access,
        accessTokenExpiresAt: f.clock.now + HOUR,
        refreshDueAt: null,
      });
      const record = await waiting;

      expect(record?.accessToken).toBe(access);
      expect(record?.version).toBe(held.version + 1);
    });

    it('returns when the holder gives up without writing', async () => {
      const { key } = await installed();
      const held = await lease(key, 'quitter');

      const waiting = f.store.waitForRelease(key, { sinceVersion: held.version, timeoutMs: 5000, intervalMs: 20 });
      await f.store.releaseLease(key, 'quitter');
      const record = await waiting;

      expect(record?.version).toBe(held.version);
      expect(record?.lease).toBeUndefined();
    });

    it('returns when the holder lease expired by more than the clock skew', async () => {
      const { key, clock, store, held } = await leasedOnOwnClock('dead', {}, 1000);

      clock.now += 1000 + LEASE_CLOCK_SKEW_MS;
      const record = await store.waitForRelease(key, { sinceVersion: held.version, timeoutMs: 1000, intervalMs: 10 });

      expect(record?.lease?.owner).toBe('dead');
      expect(record?.lease?.expiresAt).toBe(clock.now - LEASE_CLOCK_SKEW_MS);
    });

    it('issue 11: returns once it has watched one lease unchanged for a whole lease length by its own clock', async () => {
      const { key } = await installed();
      const clock = { now: f.clock.now };
      const sleep = async (ms: number) => {
        clock.now += ms;
      };
      // The holder's clock is 4 s ahead: its lease looks 9 s long to us.
      const holder = f.makeStore({ now: () => clock.now + 4_000, leaseTtlMs: 5_000 });
      const waiter = f.makeStore({ now: () => clock.now, leaseTtlMs: 5_000, sleep });
      const held = await lease(key, 'ahead', holder);
      const started = clock.now;

      const record = await waiter.waitForRelease(key, { sinceVersion: held.version, timeoutMs: 20_000, intervalMs: 100 });

      expect(record?.lease?.owner).toBe('ahead');
      expect(clock.now - started).toBeGreaterThanOrEqual(5_000);
      expect(clock.now - started).toBeLessThan(5_300);
    });

    it('gives up with LeaseWaitTimeoutError at its bound while the holder keeps the lease', async () => {
      const { key } = await installed();
      const held = await lease(key, 'hog');
      // The bound is the store's clock: a waiter on the wall clock (the fixture's stands still).
      const waiter = f.makeStore({ now: Date.now });
      const startedAt = Date.now();

      const error = await waiter
        .waitForRelease(key, { sinceVersion: held.version, timeoutMs: 300, intervalMs: 50 })
        .catch((e: unknown) => e);
      const waited = Date.now() - startedAt;

      expect(error).toBeInstanceOf(LeaseWaitTimeoutError);
      expect((error as LeaseWaitTimeoutError).code).toBe('LEASE_WAIT_TIMEOUT');
      expect(waited).toBeGreaterThanOrEqual(300);
      expect(waited).toBeLessThan(2000);
    });

    it('stops at timeoutMs by the store clock, not after a number of polls, and never sleeps past it', async () => {
      const { key } = await installed();
      const held = await lease(key, 'hog', f.store, 60_000);
      const clock = { now: f.clock.now };
      const sleeps: number[] = [];
      const reads: StorageCall[] = [];
      const waiter = f.makeStore({
        now: () => clock.now,
        sleep: async (ms) => {
          sleeps.push(ms);
          clock.now += ms;
        },
        onCall: (call) => reads.push(call),
      });
      const startedAt = clock.now;

      const error = await waiter.waitForRelease(key, { sinceVersion: held.version, timeoutMs: 1000, intervalMs: 300 }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(LeaseWaitTimeoutError);
      expect((error as LeaseWaitTimeoutError).waitedMs).toBe(1000);
      expect(sleeps).toEqual([300, 300, 300, 100]);
      expect(clock.now).toBe(startedAt + 1000);
      expect(reads).toEqual(['read', 'read', 'read', 'read']);
    });

    it('polls fewer times when the store clock runs ahead of its sleeps (a slow read, a long GC pause)', async () => {
      const { key } = await installed();
      const held = await lease(key, 'hog', f.store, 60_000);
      const clock = { now: f.clock.now };
      const sleeps: number[] = [];
      const waiter = f.makeStore({
        now: () => clock.now,
        sleep: async (ms) => {
          sleeps.push(ms);
          clock.now += 3 * ms;
        },
      });

      const error = await waiter.waitForRelease(key, { sinceVersion: held.version, timeoutMs: 1000, intervalMs: 100 }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(LeaseWaitTimeoutError);
      // 300 ms of the store's clock per poll: the fourth one passes the bound, so no fifth starts.
      expect(sleeps).toEqual([100, 100, 100, 100]);
    });
  });
});
