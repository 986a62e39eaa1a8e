import { randomUUID } from 'node:crypto';

import type { DemoAppSecret } from '../../../../infra/local/demo-app';
import { type WixSimulator, wixFaults } from '../../../../infra/local/wix-simulator';
import { GrantKind, InstanceStatus, type InstanceKey, type InstanceRecord, type TokenStore } from '../../../../lib/store';
import { refreshOne } from '../../../../lib/tokens/refresh';
import {
  CLIENT_CREDENTIALS_LEAD_MS,
  CLIENT_CREDENTIALS_SPREAD_MS,
  LEGACY_HEALTH_INTERVAL_MS,
  LEGACY_HEALTH_SPREAD_MS,
} from '../../../../lib/tokens/refresh-policy';
import { sweep, type SweepOptions } from '../../../../lib/tokens/sweep';
import { createWixClient } from '../../../../lib/wix';
import { createTestTable, type TestTable } from '../../../support/dynamodb-table';
import { storeUnderLease } from '../../../support/leases';
import { lambdaContext, mintContainer } from '../../../support/mint-fixture';
import {
  grantCounter,
  refreshContainer,
  seedClientCredentials,
  seedLegacy,
  storeMaker,
} from '../../../support/refresh-fixture';
import { simulatorFor, startSimulatedApp } from '../../../support/simulated-app';
import { DAY, HOUR, MINUTE } from '../../../support/time';

let sim: WixSimulator;
let rotatingSim: WixSimulator;
let app: DemoAppSecret;
let table: TestTable;

beforeAll(async () => {
  ({ app, sim } = await startSimulatedApp());
  rotatingSim = await simulatorFor(app, { rotateRefreshTokens: true });
});

afterAll(async () => {
  await sim.stop();
  await rotatingSim.stop();
});

// Every test gets its own table: a sweep reads every due item of the table it is given.
beforeEach(async () => {
  table = await createTestTable('sweep');
  sim.clearIntercepts();
  sim.resetCalls();
  sim.setLatency(0);
  sim.setAppSecret(app.appId, app.appSecret);
});

afterEach(async () => {
  await table.drop();
});

function container(options: Partial<Parameters<typeof refreshContainer>[0]> = {}) {
  return refreshContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app, ...options });
}

const makeStore = () => storeMaker(table.documentClient, table.tableName, app);
const exchanger = (simulator: WixSimulator = sim) => createWixClient({ baseUrl: simulator.url });
const hot = () => ({ dueAt: Date.now() - MINUTE, lastUsedAt: Date.now() - MINUTE });

function run(deps: ReturnType<typeof container>['deps'], options: Partial<SweepOptions> = {}) {
  return sweep(deps, { budgetMs: 10_000, concurrency: 8, ...options });
}

/** `deps` with a Wix whose refresh_token grant runs `meanwhile` after Wix answered and before the sweep writes. */
function afterWixRefresh<D extends ReturnType<typeof container>['deps']>(deps: D, meanwhile: () => Promise<void>): D {
  const { wix } = deps;
  return {
    ...deps,
    wix: {
      ...wix,
      refreshAccessToken: async (...args: Parameters<typeof wix.refreshAccessToken>) => {
        const tokens = await wix.refreshAccessToken(...args);
        await meanwhile();
        return tokens;
      },
    },
  };
}

/**
 * A legacy instance on the rotating simulator, refreshed once while `meanwhile` runs between Wix's
 * answer and the store write: what refreshOne answered, and the record after it.
 */
async function refreshedWhile(
  meanwhile: (key: InstanceKey, store: TokenStore) => Promise<void>,
  options: Partial<Parameters<typeof refreshContainer>[0]> = {},
) {
  const key = await seedLegacy(rotatingSim, exchanger(rotatingSim), makeStore(), app, hot());
  const base = container({ wixUrl: rotatingSim.url, ...options });
  const deps = afterWixRefresh(base.deps, () => meanwhile(key, base.store));

  const outcome = await refreshOne(deps, key, { deadline: Date.now() + 5000 });

  return { key, outcome, record: await read(base.store, key) };
}

async function read(store: TokenStore, key: InstanceKey): Promise<InstanceRecord> {
  const record = await store.getInstance(key, { consistentRead: true });
  if (record === undefined) throw new Error('record missing');
  return record;
}

async function dueKeys(store: TokenStore, now = Date.now()): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.queryDue({ now, limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    keys.push(...page.items.map((item) => item.instanceId));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return keys;
}

describe('sweep: per kind', () => {
  it('renews a due, hot client-credentials instance with one Wix call, due again 15-25 min before the new expiry', async () => {
    const key = await seedClientCredentials(sim, makeStore(), app, hot());
    const { deps, store } = container();
    sim.resetCalls();

    const summary = await run(deps);

    const record = await read(store, key);
    expect(summary).toMatchObject({ examined: 1, refreshed: 1, leftForNextRun: 0, complete: true });
    expect(sim.calls.byGrant).toEqual({ client_credentials: 1 });
    const expiresAt = record.accessTokenExpiresAt as number;
    expect(expiresAt - Date.now()).toBeGreaterThan(3.9 * HOUR);
    expect(expiresAt - (record.refreshDueAt as number)).toBeGreaterThanOrEqual(CLIENT_CREDENTIALS_LEAD_MS);
    expect(expiresAt - (record.refreshDueAt as number)).toBeLessThan(CLIENT_CREDENTIALS_LEAD_MS + CLIENT_CREDENTIALS_SPREAD_MS);
    expect(record.lastError).toBeUndefined();
    expect(record.lease).toBeUndefined();
  });

  it('runs the daily health pass on a due legacy instance: one refresh_token grant, due again in 23-24 h', async () => {
    const key = await seedLegacy(sim, exchanger(), makeStore(), app, hot());
    const { deps, store } = container();
    sim.resetCalls();

    const summary = await run(deps);

    const record = await read(store, key);
    expect(summary).toMatchObject({ examined: 1, refreshed: 1, rotated: 0, fellBack: 0 });
    expect(sim.calls.byGrant).toEqual({ refresh_token: 1 });
    expect(record.grantKind).toBe(GrantKind.Legacy);
    expect(record.refreshToken).toBe(key.refreshToken);
    const next = (record.refreshDueAt as number) - Date.now();
    expect(next).toBeGreaterThan(LEGACY_HEALTH_INTERVAL_MS - LEGACY_HEALTH_SPREAD_MS - MINUTE);
    expect(next).toBeLessThanOrEqual(LEGACY_HEALTH_INTERVAL_MS);
  });

  it('keeps a longer-lived stored access token over the five-minute legacy one', async () => {
    const key = await seedLegacy(sim, exchanger(), makeStore(), app, hot());
    const seeded = makeStore()();
    const lease = await seeded.acquireLease(key, { owner: 'mint' });
    if (!lease.acquired) throw new Error('arrange: no lease');
    await seeded.storeLeasedTokens(key, {
      owner: 'mint',
      expectedVersion: lease.record.version,
      accessToken: 'OauthNG.JWS.minted-by-client-credentials',
      accessTokenExpiresAt: Date.now() + 3 * HOUR,
      refreshDueAt: Date.now() - MINUTE,
    });
    const { deps, store } = container();

    await run(deps);

    const record = await read(store, key);
    expect(record.accessToken).toBe('OauthNG.JWS.minted-by-client-credentials');
    expect(sim.calls.byGrant['refresh_token']).toBe(1);
  });

  it('keeps the health schedule of a legacy instance when mint serves it with client credentials', async () => {
    const healthDue = Date.now() + 20 * HOUR;
    const key = await seedLegacy(sim, exchanger(), makeStore(), app, { dueAt: healthDue, lastUsedAt: Date.now() });
    const { handler, store } = mintContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app });

    await handler({ instanceId: key.instanceId }, lambdaContext());

    const record = await read(store, key);
    expect(record.grantKind).toBe(GrantKind.Legacy);
    expect((record.accessTokenExpiresAt as number) - Date.now()).toBeGreaterThan(3.9 * HOUR);
    expect(record.refreshDueAt).toBe(healthDue);
  });

  it('stores a rotated refresh token in its first write after the grant', async () => {
    const key = await seedLegacy(rotatingSim, exchanger(rotatingSim), makeStore(), app, hot());
    const base = container({ wixUrl: rotatingSim.url });
    const calls: string[] = [];
    const store = recordingStore(base.store, calls);
    const deps = afterWixRefresh({ ...base.deps, store }, async () => {
      calls.push('wix:refresh_token');
    });

    const summary = await run(deps);

    const record = await read(base.store, key);
    expect(summary).toMatchObject({ refreshed: 1, rotated: 1 });
    expect(record.refreshToken).not.toBe(key.refreshToken);
    expect(calls.slice(calls.indexOf('wix:refresh_token') + 1)[0]).toBe('storeLeasedTokens(refreshToken)');
    await expect(exchanger(rotatingSim).refreshAccessToken(app, key.refreshToken)).rejects.toMatchObject({ kind: 'grant_invalid' });
    await expect(exchanger(rotatingSim).refreshAccessToken(app, record.refreshToken as string)).resolves.toBeDefined();
  });

  it('keeps a rotated refresh token whose lease ran out during the call, nobody having written since', async () => {
    // A pause (GC, a slow network) that outlasts the lease after Wix already rotated the token.
    const { key, outcome, record } = await refreshedWhile(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 400));
      },
      { store: { leaseTtlMs: 300 }, overrides: { writeMarginMs: 0, minCallMs: 0 } },
    );

    expect(outcome).toMatchObject({ status: 'refreshed', rotated: true });
    expect(record.refreshToken).not.toBe(key.refreshToken);
    await expect(exchanger(rotatingSim).refreshAccessToken(app, record.refreshToken as string)).resolves.toBeDefined();
  });

  it('keeps a rotated refresh token when a mint took the expired lease and wrote an access token meanwhile', async () => {
    const minted = { accessToken: 'OauthNG.JWS.minted-while-the-refresh-paused', expiresAt: Date.now() + 4 * HOUR };
    // Wix rotated the token; then a pause outlasts the lease, and a mint takes it over and writes.
    const { key, outcome, record } = await refreshedWhile(
      async (key, store) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        await storeUnderLease(store, key, 'mint', {
          accessToken: minted.accessToken,
          accessTokenExpiresAt: minted.expiresAt,
          refreshDueAt: (held) => held.refreshDueAt ?? null,
        });
      },
      // One process, one clock: no skew to allow for before the mint takes the expired lease.
      { store: { leaseTtlMs: 300, clockSkewMs: 0 }, overrides: { writeMarginMs: 0, minCallMs: 0 } },
    );

    expect(outcome).toMatchObject({ status: 'refreshed', rotated: true });
    expect(rotatingSim.liveRefreshTokens(app.appId, key.instanceId)).toEqual([record.refreshToken]);
    expect(record).toMatchObject({ grantKind: GrantKind.Legacy, status: InstanceStatus.Active, accessToken: minted.accessToken });
    expect(record.lease).toBeUndefined();
  });

  it('keeps a rotated refresh token when an AppInstalled moved the version but left the refresh token', async () => {
    const { key, outcome, record } = await refreshedWhile(async (key, store) => {
      await store.recordAppInstalled(key, { eventAt: Date.now() + MINUTE });
    });

    expect(outcome).toMatchObject({ status: 'refreshed', rotated: true });
    expect(rotatingSim.liveRefreshTokens(app.appId, key.instanceId)).toEqual([record.refreshToken]);
  });

  it('drops its rotated refresh token when the app was removed meanwhile: the instance stays uninstalled', async () => {
    const { outcome, record } = await refreshedWhile(async (key, store) => {
      await store.recordAppRemoved(key, { eventAt: Date.now() + MINUTE });
    });

    expect(outcome).toMatchObject({ status: 'failed', failure: 'conflict' });
    expect(record.status).toBe(InstanceStatus.Uninstalled);
    expect(record.refreshToken).toBeUndefined();
    expect(record.accessToken).toBeUndefined();
  });

  it('drops its rotated refresh token when a reinstall stored a newer one meanwhile', async () => {
    let reinstalled = '';
    const { outcome, record } = await refreshedWhile(async (key, store) => {
      const fresh = await exchanger(rotatingSim).exchangeCode(app, rotatingSim.issueCode(app.appId, key.instanceId));
      reinstalled = fresh.refreshToken;
      await store.storeInstallTokens(key, { ...fresh, accessTokenExpiresAt: fresh.expiresAt, installedAt: Date.now(), refreshDueAt: null });
    });

    expect(outcome).toMatchObject({ status: 'failed', failure: 'conflict' });
    expect(record.refreshToken).toBe(reinstalled);
  });
});

describe('sweep: issue 8 regressions', () => {
  /** A document client whose token writes fail the first `times` times, as DynamoDB does once the SDK's retries are spent. */
  function throttledWrites(times: number, options: { applyFirst?: boolean } = {}) {
    let left = times;
    return {
      send: (async (command: { constructor: { name: string }; input: { UpdateExpression?: string } }) => {
        const tokenWrite = command.constructor.name === 'UpdateCommand' && /#refreshToken = /.test(command.input.UpdateExpression ?? '') && /#leaseOwner/.test(command.input.UpdateExpression ?? '');
        if (tokenWrite && left > 0) {
          left -= 1;
          // A write whose answer was lost was applied all the same.
          if (options.applyFirst === true) await (table.documentClient.send as (c: unknown) => Promise<unknown>)(command);
          throw Object.assign(new Error('Rate exceeded'), { name: options.applyFirst ? 'TimeoutError' : 'ThrottlingException' });
        }
        return (table.documentClient.send as (c: unknown) => Promise<unknown>)(command);
      }) as TestTable['documentClient']['send'],
    };
  }

  it('issue 8: retries the write of a rotated refresh token while the store is throttled, so the only working copy is kept', async () => {
    const key = await seedLegacy(rotatingSim, exchanger(rotatingSim), makeStore(), app, hot());
    const base = container({ wixUrl: rotatingSim.url, documentClient: throttledWrites(3) });

    const outcome = await refreshOne(base.deps, key, { deadline: Date.now() + 5000 });

    const record = await read(base.store, key);
    expect(outcome).toMatchObject({ status: 'refreshed', rotated: true });
    expect(rotatingSim.liveRefreshTokens(app.appId, key.instanceId)).toEqual([record.refreshToken]);
    expect(base.logger.lines.filter((line) => line.includes('retrying the store of a rotated refresh token'))).toHaveLength(3);
  });

  it('issue 8: counts a rotated refresh token as stored when the write whose answer was lost had applied it', async () => {
    const key = await seedLegacy(rotatingSim, exchanger(rotatingSim), makeStore(), app, hot());
    const base = container({ wixUrl: rotatingSim.url, documentClient: throttledWrites(1, { applyFirst: true }) });

    const outcome = await refreshOne(base.deps, key, { deadline: Date.now() + 5000 });

    const record = await read(base.store, key);
    expect(outcome).toMatchObject({ status: 'refreshed', rotated: true });
    expect(rotatingSim.liveRefreshTokens(app.appId, key.instanceId)).toEqual([record.refreshToken]);
  });

  it('issue 8: logs and answers only the two ids of the key it is handed, whatever else the object carries', async () => {
    const key = await seedLegacy(rotatingSim, exchanger(rotatingSim), makeStore(), app, hot());
    const base = container({ wixUrl: rotatingSim.url });
    await makeStore()().recordAppInstalled(key, { eventAt: Date.now() + MINUTE });
    // A reinstall between the grant and the write, so the refresh logs a conflict naming the key.
    const deps = afterWixRefresh(base.deps, async () => {
      await base.store.recordAppRemoved(key, { eventAt: Date.now() + 2 * MINUTE });
    });

    await refreshOne(deps, key, { deadline: Date.now() + 5000 });

    expect(base.logger.lines.some((line) => line.includes(key.instanceId))).toBe(true);
    expect(base.logger.lines.join('\n')).not.toContain(key.refreshToken);
  });
});

describe('sweep: refusals and failures', () => {
  it('falls back to client credentials when the refresh token is refused, and the instance stays usable', async () => {
    const key = await seedLegacy(sim, exchanger(), makeStore(), app, hot());
    sim.uninstall(app.appId, key.instanceId);
    sim.install(app.appId, key.instanceId); // a reinstall we never heard of: the old refresh token is dead
    const { deps, store, logger } = container();
    sim.resetCalls();

    const summary = await run(deps);

    const record = await read(store, key);
    expect(summary).toMatchObject({ refreshed: 1, fellBack: 1, needsReauth: 0 });
    expect(sim.calls.byGrant).toEqual({ refresh_token: 1, client_credentials: 1 });
    expect(record).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.ClientCredentials });
    expect((record.accessTokenExpiresAt as number) - Date.now()).toBeGreaterThan(3.9 * HOUR);
    expect((record.accessTokenExpiresAt as number) - (record.refreshDueAt as number)).toBeGreaterThanOrEqual(CLIENT_CREDENTIALS_LEAD_MS);
    expect(logger.lines.some((line) => line.includes('re-authorisation') && line.includes(key.instanceId))).toBe(true);
  });

  it('marks a legacy instance Wix refuses entirely needs_reauth and takes it out of the index', async () => {
    const key = await seedLegacy(sim, exchanger(), makeStore(), app, hot());
    sim.uninstall(app.appId, key.instanceId);
    const { deps, store } = container();

    const summary = await run(deps);
    sim.resetCalls();
    const again = await run(deps);

    const record = await read(store, key);
    expect(summary.failed.grant_invalid).toBe(1);
    expect(summary.needsReauth).toBe(1);
    expect(record).toMatchObject({ status: InstanceStatus.NeedsReauth, lastError: { kind: 'grant_invalid' } });
    expect(record.refreshDueAt).toBeUndefined();
    expect(await dueKeys(store)).toEqual([]);
    expect(again.examined).toBe(0);
    expect(sim.calls.total).toBe(0);
  });

  it('marks a refused client-credentials instance needs_reauth and out of the index', async () => {
    const key = await seedClientCredentials(sim, makeStore(), app, hot());
    sim.uninstall(app.appId, key.instanceId);
    const { deps, store } = container();

    const summary = await run(deps);

    const record = await read(store, key);
    expect(summary).toMatchObject({ refreshed: 0, needsReauth: 1 });
    expect(summary.failed.grant_invalid).toBe(1);
    expect(record.status).toBe(InstanceStatus.NeedsReauth);
    expect(record.refreshDueAt).toBeUndefined();
  });

  it('backs a transient failure off with jitter, records it, and keeps the instance due later', async () => {
    const keys = await Promise.all(Array.from({ length: 10 }, () => seedClientCredentials(sim, makeStore(), app, hot())));
    sim.intercept(wixFaults.status(503, { path: '/oauth2/token', rate: 1 }));
    const { deps, store, logger } = container();
    const before = Date.now();

    const summary = await run(deps);

    expect(summary.failed.transient).toBe(10);
    const failures = logger.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['message'] === 'refresh failed');
    expect(failures).toHaveLength(10);
    expect(failures.every((line) => line['level'] === 'INFO' && typeof line['requestId'] === 'string')).toBe(true);
    const records = await Promise.all(keys.map((key) => read(store, key)));
    for (const record of records) {
      expect(record.lastError).toMatchObject({ kind: 'transient', count: 1 });
      expect(record.status).toBe(InstanceStatus.Active);
      expect(record.refreshDueAt).toBeGreaterThanOrEqual(before + 30_000);
      expect(record.refreshDueAt).toBeLessThanOrEqual(Date.now() + 60_000);
    }
    expect(new Set(records.map((record) => record.refreshDueAt)).size).toBeGreaterThan(5);
  });

  it.each([
    {
      name: "issue 11 defect 8: releases without marking when Wix refuses the app's credentials, skips the app's other instances and moves them all back by the app backoff",
      refuse: () => sim.setAppSecret(app.appId, 'rotated-at-wix-only'),
      failure: 'credentials_rejected',
    },
    {
      name: "skips the app's other instances when Wix refuses the request itself (bad_request), leaving every record as it was",
      refuse: () => sim.intercept(wixFaults.status(400, { error: 'invalid_request', path: '/oauth2/token', rate: 1 })),
      failure: 'bad_request',
    },
  ] as const)('$name', async ({ refuse, failure }) => {
    const keys = await Promise.all(Array.from({ length: 3 }, () => seedClientCredentials(sim, makeStore(), app, hot())));
    refuse();
    const { deps, store } = container();
    sim.resetCalls();

    const summary = await run(deps, { concurrency: 1 });

    expect(summary.failed[failure]).toBe(1);
    expect(summary.skipped.app_unavailable).toBe(2);
    expect(sim.calls.total).toBe(1);
    for (const key of keys) {
      const record = await read(store, key);
      expect(record.lastError).toBeUndefined();
      expect(record.lease).toBeUndefined();
      expect(record.status).toBe(InstanceStatus.Active);
    }
    // Issue 11 defect 8: each is due again only after the app backoff, not at the head of the next run.
    expect(await dueKeys(store)).toEqual([]);
    expect((await dueKeys(store, Date.now() + 16 * 60_000)).sort()).toEqual(keys.map((key) => key.instanceId).sort());
  });

  it('marks a legacy instance needs_reauth when its refresh token is refused and the fallback fails transiently, then goes straight to client credentials', async () => {
    const key = await seedLegacy(sim, exchanger(), makeStore(), app, hot());
    sim.uninstall(app.appId, key.instanceId);
    sim.install(app.appId, key.instanceId); // the old refresh token is dead, the instance installed
    sim.intercept(wixFaults.status(503, { path: '/oauth2/token', grant: 'client_credentials', rate: 1 }));
    const { deps, store } = container();
    const before = Date.now();

    const failed = await run(deps);
    const marked = await read(store, key);
    sim.clearIntercepts();
    sim.resetCalls();
    const recovered = await run(deps, { now: Date.now() + 2 * MINUTE });

    expect(failed).toMatchObject({ refreshed: 0, needsReauth: 1, failed: { transient: 1 } });
    expect(marked).toMatchObject({ status: InstanceStatus.NeedsReauth, grantKind: GrantKind.Legacy, lastError: { kind: 'transient', count: 1 } });
    expect(marked.refreshDueAt).toBeGreaterThanOrEqual(before + 30_000);
    expect(recovered).toMatchObject({ refreshed: 1, fellBack: 1 });
    expect(sim.calls.byGrant).toEqual({ client_credentials: 1 });
    expect(await read(store, key)).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.ClientCredentials });
  });
});

describe('sweep: the hot set', () => {
  it('leaves dormant instances alone: out of the index, no Wix call', async () => {
    const longAgo = Date.now() - 60 * DAY;
    const idleClientCredentials = await seedClientCredentials(sim, makeStore(), app, {
      dueAt: Date.now() - MINUTE,
      lastUsedAt: Date.now() - 25 * HOUR,
      createdAt: longAgo,
    });
    const neverUsed = await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now() - MINUTE, createdAt: longAgo });
    const idleLegacy = await seedLegacy(sim, exchanger(), makeStore(), app, {
      dueAt: Date.now() - MINUTE,
      lastUsedAt: Date.now() - 31 * DAY,
      createdAt: longAgo,
    });
    const quietLegacy = await seedLegacy(sim, exchanger(), makeStore(), app, {
      dueAt: Date.now() - MINUTE,
      lastUsedAt: Date.now() - 10 * DAY,
      createdAt: longAgo,
    });
    const { deps, store } = container();
    sim.resetCalls();

    const summary = await run(deps);

    expect(summary.skipped.dormant).toBe(3);
    expect(summary.refreshed).toBe(1);
    expect(sim.calls.byGrant).toEqual({ refresh_token: 1 });
    for (const key of [idleClientCredentials, neverUsed, idleLegacy]) {
      const record = await read(store, key);
      expect(record.refreshDueAt).toBeUndefined();
      expect(record.lease).toBeUndefined();
      expect(record.status).toBe(InstanceStatus.Active);
    }
    expect((await read(store, quietLegacy)).refreshDueAt).toBeGreaterThan(Date.now() + 22 * HOUR);
    expect(await dueKeys(store, Date.now() + 10 * MINUTE)).toEqual([]);
  });

  it('spreads the renewals of a fleet minted in the same second over the spread window', async () => {
    const dueAt = Date.now() - MINUTE;
    const keys = await Promise.all(Array.from({ length: 100 }, () => seedClientCredentials(sim, makeStore(), app, { dueAt, lastUsedAt: dueAt })));
    const { deps, store } = container();

    await run(deps, { concurrency: 16 });

    const records = await Promise.all(keys.map((key) => read(store, key)));
    const leads = records.map((record) => (record.accessTokenExpiresAt as number) - (record.refreshDueAt as number));
    const dues = records.map((record) => record.refreshDueAt as number);
    expect(Math.min(...leads)).toBeGreaterThanOrEqual(CLIENT_CREDENTIALS_LEAD_MS);
    expect(Math.max(...leads)).toBeLessThan(CLIENT_CREDENTIALS_LEAD_MS + CLIENT_CREDENTIALS_SPREAD_MS);
    expect(Math.max(...dues) - Math.min(...dues)).toBeGreaterThan(0.8 * CLIENT_CREDENTIALS_SPREAD_MS);
    // No more than a few in any one second.
    const perSecond = new Map<number, number>();
    for (const due of dues) perSecond.set(Math.floor(due / 1000), (perSecond.get(Math.floor(due / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(4);
  });

  it('never lists again in the same sweep an instance whose new token lives shorter than the lead window', async () => {
    // Wix left out expires_in: the token counts as a five-minute one, less than the 15-25 min lead.
    // Several per due-index shard, so the walk is still inside a shard when one of its items is rewritten.
    const keys = await Promise.all(Array.from({ length: 48 }, () => seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now() - HOUR, lastUsedAt: Date.now() })));
    sim.intercept(wixFaults.expiresInMissing({ grant: 'client_credentials', rate: 1 }));
    const counter = grantCounter();
    const { deps, store } = container({ fetch: counter.fetch });

    const summary = await run(deps, { concurrency: 1, pageSize: 1 });

    expect(summary).toMatchObject({ examined: keys.length, refreshed: keys.length, complete: true });
    expect(counter.grants.size).toBe(keys.length);
    expect(Math.max(...counter.grants.values())).toBe(1);
    for (const key of keys) expect((await read(store, key)).refreshDueAt).toBeGreaterThan(Date.now());
  });

  it('skips an instance the index still lists but whose record is no longer due', async () => {
    const key = await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now() + HOUR, lastUsedAt: Date.now() });
    const { deps, store } = container();
    sim.resetCalls();

    const outcome = await refreshOne(deps, key, { deadline: Date.now() + 5000, dueBy: Date.now() });

    expect(outcome).toEqual({ status: 'skipped', reason: 'not_due' });
    expect(sim.calls.total).toBe(0);
    expect((await read(store, key)).lease).toBeUndefined();
  });
});

describe('sweep: time budget and crashes', () => {
  it('stops taking instances when its budget is spent, and the next run resumes where it stopped', async () => {
    const keys = await Promise.all(Array.from({ length: 30 }, () => seedClientCredentials(sim, makeStore(), app, hot())));
    sim.setLatency(100);
    const counter = grantCounter();
    const { deps, store } = container({ fetch: counter.fetch });

    const first = await run(deps, { budgetMs: 250, concurrency: 2, pageSize: 5 });
    const stillDue = await dueKeys(store);
    const second = await run(deps, { budgetMs: 10_000, concurrency: 10 });

    expect(first.complete).toBe(false);
    expect(first.refreshed).toBeGreaterThan(0);
    expect(first.refreshed).toBeLessThan(10);
    expect(first.examined).toBe(first.refreshed + first.leftForNextRun);
    expect(stillDue).toHaveLength(30 - first.refreshed);
    expect(second).toMatchObject({ refreshed: 30 - first.refreshed, complete: true, leftForNextRun: 0 });
    expect([...counter.grants.values()].every((count) => count === 1)).toBe(true);
    expect(counter.grants.size).toBe(keys.length);
  });

  it('picks up an instance whose lease a crashed sweep left, once that lease is over by more than the clock skew', async () => {
    const key = await seedClientCredentials(sim, makeStore(), app, hot());
    // The store's clock is moved on by hand, not slept through: lengths far above any scheduling
    // delay on a busy machine (a 60 s lease, 30 s of skew), so each step lands where it says.
    let offset = 0;
    const { deps, store } = container({ store: { clockSkewMs: 30_000, now: () => Date.now() + offset } });
    const dead = await store.acquireLease(key, { owner: 'crashed-sweep', ttlMs: 60_000 });
    expect(dead.acquired).toBe(true);

    const during = await run(deps);
    offset = 70_000;
    const withinSkew = await run(deps);
    offset = 100_000;
    const after = await run(deps);

    expect(during).toMatchObject({ examined: 1, refreshed: 0, skipped: { leased: 1 } });
    // Expired by this clock, but another container's clock may be behind by the skew: still its holder's.
    expect(withinSkew).toMatchObject({ examined: 1, refreshed: 0, skipped: { leased: 1 } });
    expect(after).toMatchObject({ examined: 1, refreshed: 1 });
    expect((await read(store, key)).lease).toBeUndefined();
  });
});

/** A store that notes each call (and whether a token write carries a refresh token). */
function recordingStore(store: TokenStore, calls: string[]): TokenStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const write = args[1] as { refreshToken?: string } | undefined;
        calls.push(property === 'storeLeasedTokens' && write?.refreshToken !== undefined ? 'storeLeasedTokens(refreshToken)' : String(property));
        return (value as (...inner: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
