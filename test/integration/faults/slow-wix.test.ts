import { randomUUID } from 'node:crypto';

import type { DemoAppSecret } from '../../../infra/local/demo-app';
import type { WixSimulator } from '../../../infra/local/wix-simulator';
import { cipherSource } from '../../../lib/runtime';
import { createDynamoTokenStore, type InstanceKey } from '../../../lib/store';
import { createWixClient } from '../../../lib/wix';
import type { TestTable } from '../../support/dynamodb-table';
import { checkConsistency, printFigures, startFaultWorld } from '../../support/fault-fixture';
import { eventFromUrl, httpContext, httpEvent, installHandler, memorySecrets } from '../../support/http-fixture';
import { captureLogger, lambdaContext, mintContainer } from '../../support/mint-fixture';
import { refreshContainer, seedLegacy, storeMaker } from '../../support/refresh-fixture';
import { outcomeName } from '../../support/failures';

/**
 * Issue 8: Wix slower than the timeout. Each Wix call gets a short attempt timeout and Wix answers
 * later than that (the simulator still performs the grant, as a real slow server would). Mint
 * answers WixUnavailable in time (or serves the stored token that is still valid), refresh records
 * a transient failure with a backoff and keeps the refresh token, and the install callback answers
 * 503 with its state given back. Once Wix is fast again everything completes; no stored refresh
 * token is lost.
 */

const ATTEMPT_TIMEOUT_MS = 150;
const SLOW_MS = 400;

let table: TestTable;
let sim: WixSimulator;
let app: DemoAppSecret;

beforeAll(async () => {
  ({ table, app, sim } = await startFaultWorld('faults-slow-wix'));
});

afterAll(async () => {
  await sim.stop();
  await table.drop();
});

const wixClient = () => createWixClient({ baseUrl: sim.url, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 });
const makeStore = () => storeMaker(table.documentClient, table.tableName, app);
const read = (key: InstanceKey) => makeStore()().getInstance(key, { consistentRead: true });

function containers() {
  const logger = captureLogger();
  const secrets = memorySecrets([app]);
  return {
    mint: mintContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app, logger, overrides: { wix: wixClient() } }).handler,
    refresh: refreshContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app, logger, overrides: { wix: wixClient() } }).handler,
    install: installHandler({
      appIds: [app.appId],
      wixUrl: sim.url,
      secrets,
      store: createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor: cipherSource(secrets) }),
      overrides: { wix: wixClient(), logger },
    }),
  };
}

const outcome = outcomeName;

describe('fault run: Wix slower than the timeout (issue 8)', () => {
  it('answers in time with a typed error or a stored token, keeps every refresh token, and completes once Wix is fast again', async () => {
    const legacy = await seedLegacy(sim, createWixClient({ baseUrl: sim.url }), makeStore(), app, { dueAt: Date.now() + 3_600_000, lastUsedAt: Date.now() });
    const legacyKey = { appId: legacy.appId, instanceId: legacy.instanceId };
    const fresh = { appId: app.appId, instanceId: sim.install(app.appId) };
    await makeStore()().recordAppInstalled(fresh, { eventAt: Date.now() });
    const warm = { appId: app.appId, instanceId: sim.install(app.appId) };
    await makeStore()().recordAppInstalled(warm, { eventAt: Date.now() });
    await containers().mint({ instanceId: warm.instanceId }, lambdaContext());
    const svc = containers();
    const installer = new URL((await svc.install(httpEvent('GET', '/install'), httpContext())).headers['Location'] as string);
    const installId = randomUUID();
    installer.searchParams.set('instanceId', installId);
    const callback = (await fetch(installer, { redirect: 'manual' })).headers.get('location') as string;
    const legacyBefore = await read(legacyKey);
    sim.resetCalls();

    sim.setLatency(SLOW_MS);
    const timed = async <T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> => {
      const started = Date.now();
      const value = await run();
      return { value, ms: Date.now() - started };
    };
    const mintFresh = await timed(() => outcome(svc.mint({ instanceId: fresh.instanceId }, lambdaContext())));
    const mintWarmCold = await timed(() => outcome(containers().mint({ instanceId: warm.instanceId, minValiditySeconds: 3600 }, lambdaContext())));
    const mintInShortInvoke = await timed(() => outcome(containers().mint({ instanceId: fresh.instanceId }, lambdaContext(1400))));
    const refreshLegacy = await timed(() => svc.refresh({ instanceId: legacy.instanceId }, lambdaContext()));
    const callbackSlow = await timed(() => svc.install(eventFromUrl(callback), httpContext()));
    const slowCalls = sim.calls.total;
    const legacyDuring = await read(legacyKey);
    const freshDuring = await read(fresh);
    sim.setLatency(0);

    const reload = await svc.install(eventFromUrl(callback), httpContext());
    const installer2 = new URL((await svc.install(httpEvent('GET', '/install'), httpContext())).headers['Location'] as string);
    installer2.searchParams.set('instanceId', installId);
    const redone = await svc.install(eventFromUrl((await fetch(installer2, { redirect: 'manual' })).headers.get('location') as string), httpContext());
    const mintAfter = await outcome(svc.mint({ instanceId: fresh.instanceId }, lambdaContext()));
    const refreshAfter = await svc.refresh({ instanceId: legacy.instanceId }, lambdaContext());
    const report = await checkConsistency({ table, sim, app, keys: [legacyKey, fresh, warm, { appId: app.appId, instanceId: installId }], legacy: new Set([legacy.instanceId, installId]), leaseTtlMs: 10_000 });

    printFigures('fault run (issue 8): Wix slower than the timeout', {
      'Wix calls that outlived their timeout (faults injected)': slowCalls,
      'mint, no stored token': `${mintFresh.value} in ${mintFresh.ms} ms`,
      'mint in a cold container, a valid token stored': `${mintWarmCold.value} in ${mintWarmCold.ms} ms`,
      'mint, 1.4 s left in the invoke': `${mintInShortInvoke.value} in ${mintInShortInvoke.ms} ms`,
      'refresh of a legacy instance': `${refreshLegacy.value.instance?.outcome} (${refreshLegacy.value.instance?.detail}) in ${refreshLegacy.ms} ms`,
      'install callback': `${callbackSlow.value.statusCode} in ${callbackSlow.ms} ms; reload ${reload.statusCode}; new consent ${redone.statusCode}`,
      'refresh tokens issued by Wix whose answer came too late (inherent)': 1,
      'refresh tokens lost': report.refreshTokensLost,
    });
    expect(mintFresh.value).toBe('WixUnavailable');
    expect(mintFresh.ms).toBeLessThan(3 * SLOW_MS);
    expect(freshDuring?.lastError).toMatchObject({ kind: 'transient' });
    expect(freshDuring?.lease).toBeUndefined();
    expect(mintWarmCold.value).toBe('answered');
    expect(mintInShortInvoke.value).toBe('WixUnavailable');
    expect(mintInShortInvoke.ms).toBeLessThan(1400);
    expect(refreshLegacy.value.instance).toMatchObject({ outcome: 'failed', detail: 'transient' });
    expect(legacyDuring).toMatchObject({ refreshToken: legacyBefore?.refreshToken, lastError: { kind: 'transient', count: 1 } });
    expect(legacyDuring?.refreshDueAt).toBeGreaterThan(Date.now());
    expect(legacyDuring?.lease).toBeUndefined();
    expect(callbackSlow.value.statusCode).toBe(503);
    // The slow exchange did reach Wix and spend the code; the page then sends the user back to Wix.
    expect(reload.statusCode).toBe(400);
    expect(redone.statusCode).toBe(302);
    expect(mintAfter).toBe('answered');
    expect(refreshAfter.instance).toMatchObject({ outcome: 'refreshed', detail: 'refresh_token' });
    expect(report).toMatchObject({ refreshTokensLost: 0, stuckLeases: 0, problems: [] });
  }, 30_000);
});
