import { randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { IssuedKind } from '../../../../infra/local/issued-values';
import { DEFAULT_LEASE_TTL_MS, type InstanceKey } from '../../../../lib/store';
import { sweep } from '../../../../lib/tokens/sweep';
import { WixErrorKind } from '../../../../lib/wix';
import { createMemoryWorld, refresher, issued, seedClientCredentials, slowStore, wixError, type MemoryWorld } from '../../../support/memory-world';

const healthyApp = demoAppSecret(randomUUID());
const brokenApp = demoAppSecret(randomUUID());
const MINUTE = 60_000;

/** `count` hot client-credentials instances of `appId`, due at `dueAt` (+ i ms each, so their order is fixed). */
async function seed(world: MemoryWorld, appId: string, count: number, dueAt: number): Promise<InstanceKey[]> {
  const keys: InstanceKey[] = [];
  for (let i = 0; i < count; i++) {
    const key = world.newKey(appId);
    await seedClientCredentials(world.store, key, {
      installedAt: world.clock.now() - 2 * 60 * MINUTE,
      accessToken: issued(IssuedKind.AccessToken, 'seed'),
      expiresAt: world.clock.now() + 10 * MINUTE,
      dueAt: dueAt + i,
    });
    keys.push(key);
  }
  return keys;
}

describe('sweep on the memory store', () => {
  it('refreshes everything due exactly once, and nothing that is not due', async () => {
    const w = createMemoryWorld({ apps: [healthyApp] });
    const now = w.clock.now();
    const due = await seed(w, healthyApp.appId, 40, now - 30 * MINUTE);
    const later = await seed(w, healthyApp.appId, 10, now + 30 * MINUTE);

    const first = await sweep(refresher(w), { budgetMs: MINUTE, concurrency: 4 });
    const second = await sweep(refresher(w), { budgetMs: MINUTE, concurrency: 4 });

    expect(first).toMatchObject({ examined: 40, refreshed: 40, leftForNextRun: 0, complete: true });
    for (const key of due) expect(w.wix.count('client_credentials', key.instanceId)).toBe(1);
    for (const key of later) expect(w.wix.count('client_credentials', key.instanceId)).toBe(0);
    for (const key of due) {
      const record = await w.store.getInstance(key);
      expect(record?.refreshDueAt).toBeGreaterThan(w.clock.now());
      expect(record?.lease).toBeUndefined();
    }
    expect(second).toMatchObject({ examined: 0, refreshed: 0, complete: true });
    expect(w.wix.calls).toHaveLength(40);
  });

  it('goes on past a lease that came back nearly spent (a slow write), and refreshes that instance later in the run', async () => {
    const w = createMemoryWorld({ apps: [healthyApp], shards: 1 });
    const now = w.clock.now();
    const due = await seed(w, healthyApp.appId, 12, now - 30 * MINUTE);
    const [slow] = due as [InstanceKey];
    // The first lease on one instance is answered 4 s late: too little of it is left for a Wix call.
    let slowAnswers = 1;
    const store = {
      ...w.store,
      acquireLease: async (...args: Parameters<typeof w.store.acquireLease>) => {
        const lease = await w.store.acquireLease(...args);
        if (args[0].instanceId === slow.instanceId && slowAnswers-- > 0) w.clock.advance(DEFAULT_LEASE_TTL_MS - 1000);
        return lease;
      },
    };

    const summary = await sweep(refresher(w, { store }), { budgetMs: MINUTE, concurrency: 1 });

    expect(summary).toMatchObject({ examined: 12, refreshed: 12, leftForNextRun: 0, complete: true });
    for (const key of due) expect(w.wix.count('client_credentials', key.instanceId)).toBe(1);
    expect((await w.store.getInstance(slow))?.lease).toBeUndefined();
  });

  it('leaves an instance whose lease comes back nearly spent every time for the next run, and still refreshes the rest', async () => {
    const w = createMemoryWorld({ apps: [healthyApp], shards: 1 });
    const now = w.clock.now();
    const due = await seed(w, healthyApp.appId, 6, now - 30 * MINUTE);
    const [slow] = due as [InstanceKey];
    const store = {
      ...w.store,
      acquireLease: async (...args: Parameters<typeof w.store.acquireLease>) => {
        const lease = await w.store.acquireLease(...args);
        if (args[0].instanceId === slow.instanceId) w.clock.advance(DEFAULT_LEASE_TTL_MS - 1000);
        return lease;
      },
    };

    const summary = await sweep(refresher(w, { store }), { budgetMs: MINUTE, concurrency: 1 });

    expect(summary).toMatchObject({ examined: 6, refreshed: 5, leftForNextRun: 1, complete: false });
    expect(w.wix.count('client_credentials', slow.instanceId)).toBe(0);
    expect((await w.store.getInstance(slow))?.refreshDueAt).toBeLessThanOrEqual(now);
  });

  it("issue 11 defect 8: a failing app's instances are moved back so a healthy app behind them is refreshed in the next run", async () => {
    // One shard, so the order of the due index is plain: the broken app's items come first.
    const w = createMemoryWorld({ apps: [healthyApp, brokenApp], shards: 1 });
    const now = w.clock.now();
    const broken = await seed(w, brokenApp.appId, 12, now - 2 * 60 * MINUTE);
    const healthy = await seed(w, healthyApp.appId, 10, now - 60 * MINUTE);
    const mintToken = w.wix.answers.client_credentials;
    w.wix.answers.client_credentials = (call) => {
      if (call.appId === brokenApp.appId) throw wixError(WixErrorKind.CredentialsRejected);
      return mintToken(call);
    };
    // What the budget pays for: every DynamoDB call takes 5 ms, every Wix call 50 ms.
    w.wix.latencyMs = 50;
    const deps = refresher(w, { store: slowStore(w.store, w.clock, 5) });
    const healthyCalls = () => healthy.reduce((sum, key) => sum + w.wix.count('client_credentials', key.instanceId), 0);

    const run1 = await sweep(deps, { budgetMs: 100, concurrency: 1 });
    const healthyCallsInRun1 = healthyCalls();
    const brokenMovedBack: InstanceKey[] = [];
    for (const key of broken) {
      const record = await w.store.getInstance(key);
      if ((record?.refreshDueAt ?? 0) > now) brokenMovedBack.push(key);
    }
    w.clock.advance(5 * MINUTE);
    const run2 = await sweep(deps, { budgetMs: 100, concurrency: 1 });

    // Run 1 spends its budget on the broken app, and moves back each of its items it meets.
    expect(run1.refreshed).toBe(0);
    expect(run1.leftForNextRun).toBeGreaterThan(0);
    expect(healthyCallsInRun1).toBe(0);
    expect(brokenMovedBack.length).toBeGreaterThan(broken.length / 2);
    for (const key of brokenMovedBack) {
      const record = await w.store.getInstance(key);
      expect(record?.refreshDueAt).toBeGreaterThan(w.clock.now());
      expect(record?.lastError).toBeUndefined();
    }
    // Run 2 gets past what is left of the broken app to the healthy one.
    expect(run2.refreshed).toBeGreaterThanOrEqual(1);
    expect(healthyCalls()).toBeGreaterThanOrEqual(1);
    expect(w.wix.count('client_credentials') - healthyCalls()).toBe(2);
  });
});
