import { randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { IssuedKind } from '../../../../infra/local/issued-values';
import { InstanceStatus, type LeasedTokenWrite, type TokenStore } from '../../../../lib/store';
import { mintAccessToken, type CacheEntry, type MintDeps, type MintStore } from '../../../../lib/tokens/mint';
import { InvokeErrorName } from '../../../../lib/tokens/errors';
import { createTokenCache, type TokenCache } from '../../../../lib/tokens/token-cache';
import { WixErrorKind } from '../../../../lib/wix';
import {
  createMemoryWorld,
  issued,
  recordingStore,
  rejectionOf,
  seedClientCredentials,
  storeOutage,
  wixError,
  type MemoryWorld,
} from '../../../support/memory-world';

const app = demoAppSecret(randomUUID());

/** One container: its own memory cache, sharing the world's store, Wix and clock. */
function container(world: MemoryWorld, overrides: Partial<MintDeps> & { storeCalls?: string[] } = {}) {
  const { storeCalls, ...rest } = overrides;
  const cache: TokenCache<CacheEntry> = createTokenCache<CacheEntry>();
  const store: MintStore = storeCalls === undefined ? world.store : recordingStore<MintStore>(world.store, storeCalls);
  const deps: MintDeps = {
    store,
    wix: world.wix,
    secrets: world.secrets,
    cache,
    now: world.clock.now,
    random: () => 0.5,
    newLeaseOwner: randomUUID,
    logger: world.logger,
    sleep: world.sleep,
    ...rest,
  };
  return { deps, cache };
}

const mint = (deps: MintDeps, key: { appId: string; instanceId: string }, options: { deadlineMs?: number; minValidityMs?: number } = {}) =>
  mintAccessToken(deps, { ...key, minValidityMs: options.minValidityMs ?? 300_000 }, { deadline: deps.now() + (options.deadlineMs ?? 10_000) });

function world() {
  return createMemoryWorld({ apps: [app] });
}

/** Mints while Wix holds the call at `atWix`, writes a tombstone meanwhile, and answers what the mint threw. */
async function rejectionOfMintAcrossUninstall(w: MemoryWorld, deps: MintDeps, key: { appId: string; instanceId: string }, atWix: ReturnType<MemoryWorld['wix']['hold']>) {
  const minting = mint(deps, key);
  await atWix.arrived;
  await w.store.recordAppRemoved(key, { eventAt: w.clock.now() + 1000 });
  atWix.release();
  return rejectionOf(minting);
}

/** An installed instance whose token one container has already minted; `calls` are its store calls after that. */
async function warmContainer(overrides: Partial<MintDeps> = {}) {
  const w = world();
  const key = w.newKey();
  await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
  const calls: string[] = [];
  const { deps } = container(w, { ...overrides, storeCalls: calls });
  await mint(deps, key);
  calls.length = 0;
  return { w, key, deps, calls };
}

describe('mintAccessToken on the memory store', () => {
  it('looks in memory, then the store, then Wix, and stops at the first that has a usable token', async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    const calls: string[] = [];
    const a = container(w, { storeCalls: calls });
    const b = container(w, { storeCalls: calls });

    const fromWix = await mint(a.deps, key);
    const wixCalls = [...calls];
    calls.length = 0;
    const fromMemory = await mint(a.deps, key);
    const memoryCalls = [...calls];
    calls.length = 0;
    const fromStore = await mint(b.deps, key);

    expect(fromWix.source).toBe('wix');
    expect(wixCalls).toEqual(['getInstance', 'acquireLease', 'storeLeasedTokens']);
    expect(fromMemory).toMatchObject({ source: 'memory', accessToken: fromWix.accessToken });
    expect(memoryCalls).not.toContain('getInstance');
    expect(fromStore).toMatchObject({ source: 'store', accessToken: fromWix.accessToken });
    expect(calls[0]).toBe('getInstance');
    expect(calls).not.toContain('acquireLease');
    expect(w.wix.count('client_credentials')).toBe(1);
  });

  it('reads the status projection on every warm call by default', async () => {
    const { w, key, deps, calls } = await warmContainer();

    await mint(deps, key);
    w.clock.advance(1000);
    await mint(deps, key);

    expect(calls.filter((name) => name === 'getStatus')).toHaveLength(2);
    expect(calls).not.toContain('getInstance');
    expect(w.wix.count('client_credentials')).toBe(1);
  });

  it('serves from memory without a status read within recheckIntervalMs, and reads again after it', async () => {
    const { w, key, deps, calls } = await warmContainer({ recheckIntervalMs: 60_000 });

    w.clock.advance(30_000);
    await mint(deps, key);
    const within = [...calls];
    w.clock.advance(30_000);
    await mint(deps, key);

    expect(within).toEqual([]);
    expect(calls.filter((name) => name === 'getStatus')).toHaveLength(1);
  });

  it('answers InstanceUninstalled to a warm container once AppRemoved is applied (read your uninstall)', async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    const { deps, cache } = container(w);
    await mint(deps, key);

    await w.store.recordAppRemoved(key, { eventAt: w.clock.now() + 1000 });
    const error = await rejectionOf(mint(deps, key));

    expect(error.name).toBe(InvokeErrorName.InstanceUninstalled);
    expect(cache.size).toBe(0);
  });

  it('answers InstanceUninstalled and caches nothing when a tombstone is written during the Wix call', async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    const { deps, cache } = container(w);
    const atWix = w.wix.hold('client_credentials');

    const error = await rejectionOfMintAcrossUninstall(w, deps, key, atWix);

    expect(error.name).toBe(InvokeErrorName.InstanceUninstalled);
    expect(cache.size).toBe(0);
    const record = await w.store.getInstance(key);
    expect(record).toMatchObject({ status: InstanceStatus.Uninstalled });
    expect(record?.accessToken).toBeUndefined();
    expect(record?.lease).toBeUndefined();
    expect((await rejectionOf(mint(deps, key))).name).toBe(InvokeErrorName.InstanceUninstalled);
    expect(w.wix.count('client_credentials')).toBe(1);
  });

  it('issue 11 defect 1: releases the lease after a version conflict', async () => {
    const w = world();
    const key = w.newKey();
    const installedAt = w.clock.now();
    await w.store.recordAppInstalled(key, { eventAt: installedAt });
    const first = container(w);
    const second = container(w);
    const atWix = w.wix.hold('client_credentials');

    const minting = mint(first.deps, key);
    await atWix.arrived;
    // An AppInstalled (a reinstall) lands while the holder is at Wix: the version moves.
    expect((await w.store.recordAppInstalled(key, { eventAt: installedAt + 1000 })).outcome).toBe('applied');
    atWix.release();
    const result = await minting;
    const afterConflict = await w.store.getInstance(key, { consistentRead: true });
    const startedAt = w.clock.now();
    const other = await mint(second.deps, key);

    expect(result.source).toBe('wix');
    expect(afterConflict?.lease).toBeUndefined();
    expect(other.source).toBe('wix');
    expect(w.wix.count('client_credentials')).toBe(2);
    // At once: no poll, no wait for a lease to run out.
    expect(w.clock.sleeps).toEqual([]);
    expect(w.clock.now()).toBe(startedAt);
  });

  it("gives a waiter the holder's token, with no Wix call of its own", async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    const holder = container(w);
    const waiter = container(w, { leasePollMs: 100 });
    const atWix = w.wix.hold('client_credentials');

    const holding = mint(holder.deps, key);
    await atWix.arrived;
    const polled = w.nextSleep();
    const waiting = mint(waiter.deps, key);
    await polled;
    atWix.release();
    const [held, waited] = await Promise.all([holding, waiting]);

    expect(held.source).toBe('wix');
    expect(waited).toMatchObject({ source: 'waited', accessToken: held.accessToken, expiresAt: held.expiresAt });
    expect(w.wix.count('client_credentials')).toBe(1);
  });

  it("stops a waiter on a dead holder's lease at the deadline by the clock, however slow the reads", async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    const dead = await w.store.acquireLease(key, { owner: 'crashed-container' });
    expect(dead.acquired).toBe(true);
    // Every read takes 300 ms: bounded by polls (10 × 400 ms) the waiter would answer after 4 s.
    const slowReads: TokenStore = {
      ...w.store,
      getInstance: async (...args) => {
        w.clock.advance(300);
        return w.store.getInstance(...args);
      },
    };
    const { deps } = container(w, { store: slowReads, leasePollMs: 100 });
    const startedAt = w.clock.now();

    const error = await rejectionOf(mint(deps, key, { deadlineMs: 1000 }));

    expect(error.name).toBe(InvokeErrorName.WixUnavailable);
    expect(w.clock.now() - startedAt).toBeLessThanOrEqual(1000 + 300);
    expect(w.wix.count('client_credentials')).toBe(0);
  });

  it("outlasts a dead holder's lease, takes it over and mints before the deadline", async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    await w.store.acquireLease(key, { owner: 'crashed-container' });
    const { deps } = container(w, { leasePollMs: 100 });
    const startedAt = w.clock.now();

    const result = await mint(deps, key, { deadlineMs: 10_000 });

    expect(result.source).toBe('wix');
    expect(w.clock.now() - startedAt).toBeLessThan(10_000);
    expect((await w.store.getInstance(key))?.lease).toBeUndefined();
  });

  it.each([
    [WixErrorKind.Transient, InvokeErrorName.WixUnavailable],
    [WixErrorKind.GrantInvalid, InvokeErrorName.WixRejected],
    [WixErrorKind.CredentialsRejected, InvokeErrorName.ServiceUnavailable],
    [WixErrorKind.BadRequest, InvokeErrorName.ServiceUnavailable],
  ])('answers a %s Wix failure as %s and frees the lease', async (kind, errorType) => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    w.wix.answers.client_credentials = () => {
      throw wixError(kind);
    };
    const { deps } = container(w);

    const error = await rejectionOf(mint(deps, key));

    expect(error.name).toBe(errorType);
    expect((await w.store.getInstance(key))?.lease).toBeUndefined();
  });

  it.each([
    {
      title: 'answers InvalidRequest for an app this deployment does not serve, without calling Wix',
      errorType: InvokeErrorName.InvalidRequest,
      keyIn: async (w: ReturnType<typeof world>) => w.newKey(randomUUID()),
    },
    {
      title: 'answers InstanceUninstalled from a tombstone without calling Wix',
      errorType: InvokeErrorName.InstanceUninstalled,
      keyIn: async (w: ReturnType<typeof world>) => {
        const key = w.newKey();
        await w.store.recordAppRemoved(key, { eventAt: w.clock.now() });
        return key;
      },
    },
  ])('$title', async ({ errorType, keyIn }) => {
    const w = world();
    const key = await keyIn(w);
    const { deps } = container(w);

    const error = await rejectionOf(mint(deps, key));

    expect(error.name).toBe(errorType);
    expect(w.wix.calls).toEqual([]);
  });

  it('answers WixRejected from the record right after a refusal, without asking Wix again', async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    w.wix.once('client_credentials', () => {
      throw wixError(WixErrorKind.GrantInvalid);
    });
    const { deps } = container(w);
    await rejectionOf(mint(deps, key));

    const error = await rejectionOf(mint(container(w).deps, key));

    expect(error.name).toBe(InvokeErrorName.WixRejected);
    expect(w.wix.count('client_credentials')).toBe(1);
    expect((await w.store.getInstance(key))?.status).toBe(InstanceStatus.NeedsReauth);
  });

  it('still answers a minted token when the store cannot be written after the Wix call', async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    const down: MintStore = {
      ...w.store,
      storeLeasedTokens: async () => {
        throw storeOutage('storeLeasedTokens');
      },
      releaseLease: async () => {
        throw storeOutage('releaseLease');
      },
    };
    const { deps } = container(w, { store: down });

    const result = await mint(deps, key);

    expect(result.source).toBe('wix');
    expect(result.accessToken).toMatch(/^cc\./);
    expect(w.logger.lines.some((line) => line.includes('minted token not stored: the store is unavailable'))).toBe(true);
  });

  it('review of issue 11: answers InstanceUninstalled, not the stored token, when Wix fails while the uninstall lands', async () => {
    const w = world();
    const key = w.newKey();
    const stored = issued(IssuedKind.AccessToken, 'stored');
    // Valid for 2 more minutes: not enough for the 5 minutes asked, good as a fallback on an outage.
    await seedClientCredentials(w.store, key, { installedAt: w.clock.now(), accessToken: stored, expiresAt: w.clock.now() + 120_000, dueAt: null });
    const { deps, cache } = container(w);
    const atWix = w.wix.hold('client_credentials');
    w.wix.once('client_credentials', () => {
      throw wixError(WixErrorKind.Transient, 'client_credentials');
    });

    const error = await rejectionOfMintAcrossUninstall(w, deps, key, atWix);

    expect(error.name).toBe(InvokeErrorName.InstanceUninstalled);
    expect(cache.size).toBe(0);
  });

  it('review of issue 11: an app-level failure during a mint never pulls the instance\'s due time forward', async () => {
    const w = world();
    const key = w.newKey();
    const dueAt = w.clock.now() + 3 * 3_600_000;
    await seedClientCredentials(w.store, key, { installedAt: w.clock.now(), accessToken: issued(IssuedKind.AccessToken, 'old'), expiresAt: w.clock.now() + 60_000, dueAt });
    w.wix.once('client_credentials', () => {
      throw wixError(WixErrorKind.CredentialsRejected, 'client_credentials');
    });
    const { deps } = container(w);

    const error = await rejectionOf(mint(deps, key));

    expect(error.name).toBe(InvokeErrorName.ServiceUnavailable);
    const record = await w.store.getInstance(key);
    expect(record?.refreshDueAt).toBe(dueAt);
    expect(record?.lease).toBeUndefined();
  });

  it('review of issue 11: a warm container whose record moved on (uninstalled, then reinstalled) goes back to the store', async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    const { deps } = container(w);
    const first = await mint(deps, key);
    await w.store.recordAppRemoved(key, { eventAt: w.clock.now() + 1000 });
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() + 2000 });

    const second = await mint(deps, key);

    expect(second.source).not.toBe('memory');
    expect(second.accessToken).not.toBe(first.accessToken);
  });

  it('serves a stored, still valid token when the store fails while a fresher one is sought', async () => {
    const w = world();
    const key = w.newKey();
    const stored = issued(IssuedKind.AccessToken, 'stored');
    // Valid for 2 more minutes: not enough for the 5 minutes asked, still good as a fallback.
    await seedClientCredentials(w.store, key, { installedAt: w.clock.now(), accessToken: stored, expiresAt: w.clock.now() + 120_000, dueAt: null });
    const down: MintStore = {
      ...w.store,
      acquireLease: async () => {
        throw storeOutage('acquireLease');
      },
    };
    const { deps } = container(w, { store: down });

    const result = await mint(deps, key);

    expect(result).toMatchObject({ source: 'stale', accessToken: stored });
    expect(w.wix.calls).toEqual([]);
  });

  it('retries the write after Wix within the lease, recognising its own applied write whose answer was lost', async () => {
    const w = world();
    const key = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    const before = await w.store.getInstance(key);
    const attempts: string[] = [];
    let leaseExpiresAt = 0;
    const flaky: MintStore = {
      ...w.store,
      acquireLease: async (...args) => {
        const lease = await w.store.acquireLease(...args);
        if (lease.acquired) leaseExpiresAt = lease.lease.expiresAt;
        return lease;
      },
      storeLeasedTokens: async (k, write: LeasedTokenWrite, options) => {
        attempts.push(`at ${w.clock.now()}`);
        if (attempts.length === 1) throw storeOutage('storeLeasedTokens');
        if (attempts.length === 2) {
          await w.store.storeLeasedTokens(k, write, options);
          throw storeOutage('storeLeasedTokens');
        }
        return w.store.storeLeasedTokens(k, write, options);
      },
    };
    const { deps } = container(w, { store: flaky });

    const result = await mint(deps, key);
    const record = await w.store.getInstance(key, { consistentRead: true });

    expect(result.source).toBe('wix');
    expect(attempts).toHaveLength(3);
    expect(w.clock.now()).toBeLessThan(leaseExpiresAt);
    expect(record).toMatchObject({ accessToken: result.accessToken, accessTokenExpiresAt: result.expiresAt, version: (before?.version ?? 0) + 1 });
    expect(record?.lease).toBeUndefined();
    expect(w.wix.count('client_credentials')).toBe(1);
  });
});
