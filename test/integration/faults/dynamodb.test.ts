import { randomUUID } from 'node:crypto';

import { createWebhooksHandler } from '../../../functions/webhooks';
import { demoAppSecret, type DemoAppSecret } from '../../../infra/local/demo-app';
import { startWixSimulator, type WixSimulator } from '../../../infra/local/wix-simulator';
import { cipherSource } from '../../../lib/runtime';
import { createDynamoTokenStore, type InstanceKey } from '../../../lib/store';
import { InvokeErrorName } from '../../../lib/tokens/errors';
import { createTestTable, type TestTable } from '../../support/dynamodb-table';
import { checkConsistency, faultyDocumentClient, printFigures, scanItems, watchVersions, type FaultyClient } from '../../support/fault-fixture';
import { eventFromUrl, httpContext, httpEvent, installHandler, memorySecrets, signWebhook } from '../../support/http-fixture';
import { captureLogger, lambdaContext, mintContainer } from '../../support/mint-fixture';
import { inPool, refreshContainer } from '../../support/refresh-fixture';

/**
 * Issue 8: the whole service under DynamoDB throttling and failures injected at the document
 * client (a quarter of all calls: throttled, throughput exceeded, 500s, SDK timeouts, and writes
 * whose answer is lost after they were applied), with refresh tokens that Wix rotates on every
 * use, the hardest case. Callers retry the way Wix and browsers do. Afterwards, with the faults
 * gone, no refresh token is lost, no lease is stuck, no reader ever saw a version go back or one
 * version with two contents, and every instance refreshes cleanly.
 */

const LEASE_TTL_MS = 2500;
const FAULT_RATE = 0.25;
const LEGACY_INSTALLS = 10;
const WEBHOOK_INSTALLS = 10;
const MINTS = 240;
const REFRESH_ROUNDS = 3;

let table: TestTable;
let sim: WixSimulator;
let app: DemoAppSecret;
/** Stops the version watcher even when the run fails half way (it must not outlive the table). */
let stopWatcher: (() => Promise<unknown>) | undefined;

beforeAll(async () => {
  table = await createTestTable('faults-ddb');
  app = demoAppSecret(randomUUID());
  sim = await startWixSimulator({ apps: [{ appId: app.appId, appSecret: app.appSecret }], rotateRefreshTokens: true });
});

afterAll(async () => {
  await stopWatcher?.();
  await sim.stop();
  await table.drop();
});

/** Every function of the service in one container whose DynamoDB calls go through `documentClient`. */
function service(documentClient: FaultyClient | TestTable['documentClient']) {
  const logger = captureLogger();
  const secrets = memorySecrets([app]);
  const store = createDynamoTokenStore({ documentClient, tableName: table.tableName, cipherFor: cipherSource(secrets), leaseTtlMs: LEASE_TTL_MS });
  const install = installHandler({ appIds: [app.appId], wixUrl: sim.url, secrets, store, overrides: { logger } });
  const webhooks = createWebhooksHandler({ appIds: [app.appId], secrets, store, now: Date.now, logger });
  const mint = mintContainer({ documentClient, tableName: table.tableName, wixUrl: sim.url, app, logger, overrides: { store, leasePollMs: 20, leaseWaitMs: 3000 } }).handler;
  const refresh = refreshContainer({ documentClient, tableName: table.tableName, wixUrl: sim.url, app, logger, overrides: { store, writeMarginMs: 300, minCallMs: 200 } }).handler;
  return { install, webhooks, mint, refresh, logger };
}

describe('fault run: DynamoDB throttled and failing (issue 8)', () => {
  it('loses no refresh token and leaves every instance consistent', async () => {
    const faulty = faultyDocumentClient(table.documentClient, { rate: FAULT_RATE, seed: 8 });
    const svc = service(faulty);
    const watcher = watchVersions(table);
    stopWatcher = () => watcher.stop();
    const answers: Record<string, number> = {};
    const tally = (what: string) => {
      answers[what] = (answers[what] ?? 0) + 1;
    };
    const legacy: InstanceKey[] = [];
    const clientCredentials: InstanceKey[] = [];

    // Legacy installs through the handshake: a browser reloads the callback on a 5xx page and
    // starts the install again from Wix when told to.
    await inPool(LEGACY_INSTALLS, 4, async () => {
      const instanceId = randomUUID();
      for (let consent = 1; consent <= 4; consent++) {
        const started = await svc.install(httpEvent('GET', '/install'), httpContext());
        tally(`install GET /install ${started.statusCode}`);
        if (started.statusCode !== 302) continue;
        const installer = new URL(started.headers['Location'] as string);
        installer.searchParams.set('instanceId', instanceId);
        const callback = (await fetch(installer, { redirect: 'manual' })).headers.get('location') as string;
        for (let reload = 1; reload <= 4; reload++) {
          const done = await svc.install(eventFromUrl(callback), httpContext());
          tally(`install callback ${done.statusCode}`);
          if (done.statusCode === 302) {
            legacy.push({ appId: app.appId, instanceId });
            return;
          }
          if (done.statusCode < 500) break;
        }
      }
      throw new Error('an install never completed');
    });

    // AppInstalled webhooks, redelivered by "Wix" until answered 200.
    await inPool(WEBHOOK_INSTALLS, 4, async () => {
      const instanceId = sim.install(app.appId);
      const jwt = await signWebhook(app, { eventType: 'AppInstalled', instanceId, data: { appId: app.appId } });
      for (let delivery = 1; delivery <= 8; delivery++) {
        const answer = await svc.webhooks(httpEvent('POST', '/webhooks', { body: jwt }), httpContext(3000));
        tally(`webhook ${answer.statusCode}`);
        if (answer.statusCode === 200) {
          clientCredentials.push({ appId: app.appId, instanceId });
          return;
        }
      }
      throw new Error('a webhook was never acknowledged');
    });

    // Mints of every instance and refreshes of every instance, all at once, contending for leases.
    const everyone = [...legacy, ...clientCredentials];
    const mints = inPool(MINTS, 16, async (index) => {
      const key = everyone[index % everyone.length] as InstanceKey;
      try {
        await svc.mint({ instanceId: key.instanceId, minValiditySeconds: 600 }, lambdaContext(5000));
        tally('mint ok');
      } catch (error) {
        const name = (error as Error).name;
        tally(`mint ${name}`);
        if (!(Object.values(InvokeErrorName) as string[]).includes(name)) throw error;
      }
    });
    const refreshes = inPool(everyone.length * REFRESH_ROUNDS, 8, async (index) => {
      const key = everyone[index % everyone.length] as InstanceKey;
      try {
        const summary = await svc.refresh({ instanceId: key.instanceId }, lambdaContext(5000));
        tally(`refresh ${summary.instance?.outcome}${summary.instance?.detail ? ` (${summary.instance.detail})` : ''}`);
      } catch (error) {
        const name = (error as Error).name;
        tally(`refresh ${name}`);
        if (!(Object.values(InvokeErrorName) as string[]).includes(name)) throw error;
      }
    });
    await Promise.all([mints, refreshes]);

    faulty.setEnabled(false);
    const legacyIds = new Set(legacy.map((key) => key.instanceId));
    const afterFaults = await checkConsistency({ table, sim, app, keys: everyone, legacy: legacyIds, leaseTtlMs: LEASE_TTL_MS });

    // Faults gone and every lease run out: each instance refreshes cleanly, one version further.
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS + 50));
    const clean = service(table.documentClient);
    const versions = await scanItems(table);
    const finalPass: string[] = [];
    for (const key of everyone) {
      const summary = await clean.refresh({ instanceId: key.instanceId }, lambdaContext(5000));
      const before = Number(versions.get(`${key.appId}#${key.instanceId}`)?.['version']?.N);
      const after = Number((await scanItems(table)).get(`${key.appId}#${key.instanceId}`)?.['version']?.N);
      if (summary.instance?.outcome !== 'refreshed' || summary.fellBack !== 0 || after !== before + 1) {
        finalPass.push(`${key.instanceId.slice(0, 8)}: ${summary.instance?.outcome} ${summary.instance?.detail ?? ''} fellBack=${summary.fellBack} v${before}->v${after}`);
      }
    }
    const final = await checkConsistency({ table, sim, app, keys: everyone, legacy: legacyIds, leaseTtlMs: LEASE_TTL_MS });
    const watched = await watcher.stop();

    const injected = Object.values(faulty.injected).reduce((sum, count) => sum + count, 0);
    printFigures('fault run (issue 8): DynamoDB throttled and failing', {
      'DynamoDB calls failed on purpose': injected,
      'by kind': faulty.injected,
      'DynamoDB calls passed': faulty.passed,
      'answers': answers,
      'instances (legacy, client credentials)': `${legacy.length}, ${clientCredentials.length}`,
      'refresh tokens Wix rotated': sim.issued.refreshTokens - LEGACY_INSTALLS,
      'table reads by the version watcher': watched.reads,
      'refresh tokens lost': afterFaults.refreshTokensLost,
      'stuck leases': afterFaults.stuckLeases,
    });
    expect(injected).toBeGreaterThan(60);
    expect(Object.keys(answers).filter((answer) => / 5\d\d$/.test(answer) && !/ 503$/.test(answer))).toEqual([]);
    expect(afterFaults).toMatchObject({ refreshTokensLost: 0, stuckLeases: 0, problems: [] });
    expect(finalPass).toEqual([]);
    expect(final).toMatchObject({ refreshTokensLost: 0, stuckLeases: 0, problems: [] });
    expect(watched.violations).toEqual([]);
  }, 60_000);
});
