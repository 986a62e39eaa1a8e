import { randomUUID } from 'node:crypto';

import { SecretsManagerClient } from '../../../lib/secrets/secrets-manager';

import { createInstallHandler } from '../../../functions/install';
import { createWebhooksHandler } from '../../../functions/webhooks';
import type { DemoAppSecret } from '../../../infra/local/demo-app';
import { standInClientConfig, startSecretsManagerStandIn, type SecretsManagerStandIn } from '../../../infra/local/secrets-manager-stand-in';
import type { WixSimulator } from '../../../infra/local/wix-simulator';
import { cipherSource, systemClock } from '../../../lib/runtime';
import { createAppSecretsProvider } from '../../../lib/secrets';
import { createDynamoTokenStore, createMemoryInstallStateStore, type InstanceKey } from '../../../lib/store';
import { createWixClient } from '../../../lib/wix';
import type { TestTable } from '../../support/dynamodb-table';
import { checkConsistency, printFigures, startFaultWorld, scanItems } from '../../support/fault-fixture';
import { eventFromUrl, httpContext, httpEvent, signWebhook } from '../../support/http-fixture';
import { captureLogger, lambdaContext, mintContainer } from '../../support/mint-fixture';
import { refreshContainer } from '../../support/refresh-fixture';
import { outcomeName } from '../../support/failures';

/**
 * Issue 8: Secrets Manager unavailable (the stand-in answering 503 to everything). A container
 * that has the app's credentials cached keeps serving; a cold one refuses every request with a
 * 503 or the typed ServiceUnavailable, writes nothing and spends nothing (no state, no code), so
 * that once Secrets Manager is back the same install, webhook and mint go through.
 */

const PREFIX = 'wix-token-service/test/apps/';

let table: TestTable;
let sim: WixSimulator;
let sm: SecretsManagerStandIn;
let app: DemoAppSecret;

beforeAll(async () => {
  ({ table, app, sim } = await startFaultWorld('faults-secrets'));
  sm = await startSecretsManagerStandIn({ secrets: [{ name: `${PREFIX}${app.appId}`, value: app.secretString }] });
});

afterAll(async () => {
  await sm.stop();
  await sim.stop();
  await table.drop();
});

/** One container of every function, reading the app's credentials from the stand-in through the real SDK client. */
function container() {
  const logger = captureLogger();
  const secrets = createAppSecretsProvider({
    client: new SecretsManagerClient({ ...standInClientConfig(sm.url), maxAttempts: 2 }),
    secretIdFor: (appId) => (appId === app.appId ? `${PREFIX}${appId}` : undefined),
    logger,
  });
  const store = createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor: cipherSource(secrets) });
  const wix = createWixClient({ baseUrl: sim.url, baseDelayMs: 5, maxDelayMs: 20 });
  const deps = { store, secrets, logger };
  return {
    install: createInstallHandler({ ...deps, states: createMemoryInstallStateStore(), appIds: [app.appId], installerUrl: sim.url, publicUrl: 'http://localhost:3000', wix, ...systemClock }),
    webhooks: createWebhooksHandler({ ...deps, appIds: [app.appId], now: Date.now }),
    mint: mintContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app, logger, overrides: deps }).handler,
    refresh: refreshContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app, logger, overrides: deps }).handler,
  };
}

const failure = outcomeName;

describe('fault run: Secrets Manager unavailable (issue 8)', () => {
  it('keeps warm containers serving, refuses cleanly in cold ones, and loses nothing', async () => {
    // Arrange, with Secrets Manager up: a legacy install, a webhook-installed instance with a token, a warm container.
    const up = container();
    const legacyId = randomUUID();
    const installer = new URL((await up.install(httpEvent('GET', '/install'), httpContext())).headers['Location'] as string);
    installer.searchParams.set('instanceId', legacyId);
    const firstCallback = (await fetch(installer, { redirect: 'manual' })).headers.get('location') as string;
    expect((await up.install(eventFromUrl(firstCallback), httpContext())).statusCode).toBe(302);
    const ccId = sim.install(app.appId);
    expect((await up.webhooks(httpEvent('POST', '/webhooks', { body: await signWebhook(app, { eventType: 'AppInstalled', instanceId: ccId, data: { appId: app.appId } }) }), httpContext())).statusCode).toBe(200);
    const warm = container();
    const warmToken = await warm.mint({ instanceId: ccId }, lambdaContext());
    // A consent under way when Secrets Manager goes down: its state was issued, its code not yet exchanged.
    const pending = new URL((await up.install(httpEvent('GET', '/install'), httpContext())).headers['Location'] as string);
    const pendingId = randomUUID();
    pending.searchParams.set('instanceId', pendingId);
    const pendingCallback = (await fetch(pending, { redirect: 'manual' })).headers.get('location') as string;
    const laterId = sim.install(app.appId);
    const laterWebhook = await signWebhook(app, { eventType: 'AppInstalled', instanceId: laterId, data: { appId: app.appId } });
    const before = await scanItems(table);
    sm.resetCalls();
    sim.resetCalls();

    sm.setUnavailable(true);
    const cold = container();
    const outage = {
      'GET /install': (await cold.install(httpEvent('GET', '/install'), httpContext())).statusCode,
      'GET /oauth/callback': (await cold.install(eventFromUrl(pendingCallback), httpContext())).statusCode,
      'POST /webhooks': (await cold.webhooks(httpEvent('POST', '/webhooks', { body: laterWebhook }), httpContext())).statusCode,
      'mint (cold)': await failure(cold.mint({ instanceId: ccId }, lambdaContext())),
      'refresh (cold)': (await cold.refresh({ instanceId: legacyId }, lambdaContext())).instance?.detail,
      'mint (warm)': (await warm.mint({ instanceId: ccId }, lambdaContext())).accessToken === warmToken.accessToken ? 'served from memory' : 'minted',
      'refresh (warm)': (await warm.refresh({ instanceId: ccId }, lambdaContext())).instance?.outcome,
    };
    const refusedBySecretsManager = sm.calls['GetSecretValue'] ?? 0;
    const wixCallsDuringOutage = sim.calls.total;
    const afterOutage = await scanItems(table);
    sm.setUnavailable(false);

    // Back up: the very same callback and webhook go through, and cold containers mint again.
    const back = container();
    const recovered = {
      'GET /oauth/callback': (await back.install(eventFromUrl(pendingCallback), httpContext())).statusCode,
      'POST /webhooks': (await back.webhooks(httpEvent('POST', '/webhooks', { body: laterWebhook }), httpContext())).statusCode,
      mint: await failure(back.mint({ instanceId: laterId }, lambdaContext())),
      refresh: (await back.refresh({ instanceId: legacyId }, lambdaContext())).instance?.detail,
    };
    sm.failNext(1);
    const afterOneTransientFailure = await failure(container().mint({ instanceId: ccId }, lambdaContext()));
    const keys: InstanceKey[] = [legacyId, pendingId, ccId, laterId].map((instanceId) => ({ appId: app.appId, instanceId }));
    const report = await checkConsistency({ table, sim, app, keys, legacy: new Set([legacyId, pendingId]), leaseTtlMs: 10_000 });

    printFigures('fault run (issue 8): Secrets Manager unavailable', {
      'Secrets Manager requests refused (faults injected)': refusedBySecretsManager,
      'answers during the outage': outage,
      'Wix calls during the outage (only the warm refresh)': wixCallsDuringOutage,
      'answers once it was back': recovered,
      'refresh tokens lost': report.refreshTokensLost,
    });
    expect(outage).toEqual({
      'GET /install': 503,
      'GET /oauth/callback': 503,
      'POST /webhooks': 503,
      'mint (cold)': 'ServiceUnavailable',
      'refresh (cold)': 'secrets',
      'mint (warm)': 'served from memory',
      'refresh (warm)': 'refreshed',
    });
    expect(refusedBySecretsManager).toBeGreaterThan(0);
    expect(wixCallsDuringOutage).toBe(1);
    // Only the warm container's refresh wrote during the outage.
    const changed = [...afterOutage.keys()].filter((pk) => JSON.stringify(afterOutage.get(pk)) !== JSON.stringify(before.get(pk)));
    expect(changed).toEqual([`${app.appId}#${ccId}`]);
    expect(recovered).toEqual({ 'GET /oauth/callback': 302, 'POST /webhooks': 200, mint: 'answered', refresh: 'refresh_token' });
    expect(afterOneTransientFailure).toBe('answered');
    expect(report).toMatchObject({ refreshTokensLost: 0, stuckLeases: 0, problems: [] });
  }, 30_000);
});
