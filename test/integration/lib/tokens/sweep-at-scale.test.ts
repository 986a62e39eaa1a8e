import { randomUUID } from 'node:crypto';

import { DynamoDBDocumentClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';

import type { DemoAppSecret } from '../../../../infra/local/demo-app';
import { type FaultScope, type Intercept, type WixSimulator, wixFaults } from '../../../../infra/local/wix-simulator';
import { cipherSource } from '../../../../lib/runtime';
import { GrantKind, InstanceStatus, type TokenCipher } from '../../../../lib/store';
import { cipherContext, type InstanceItem } from '../../../../lib/store/item';
import type { RefreshSummary } from '../../../../lib/tokens/refresh-summary';
import { sweep } from '../../../../lib/tokens/sweep';
import { createWixClient, WixOAuthError } from '../../../../lib/wix';
import { createTestTable, localDynamoDbClient, type TestTable } from '../../../support/dynamodb-table';
import { memorySecrets } from '../../../support/secrets';
import { startSimulatedApp } from '../../../support/simulated-app';
import { bulkSeed, grantCounter, inPool, refreshContainer, type BulkInstance } from '../../../support/refresh-fixture';

const INSTANCES = 1000;
const UNINSTALLED_PER_KIND = 25;
const FAILURE_RATE = 0.3;
const FAULTS: Array<(scope: FaultScope) => Intercept> = [
  (scope) => wixFaults.status(500, scope),
  (scope) => wixFaults.status(503, scope),
  wixFaults.rateLimit,
  wixFaults.reset,
  wixFaults.notJson,
  wixFaults.html,
];

let sim: WixSimulator;
let app: DemoAppSecret;
let table: TestTable;
let cipher: TokenCipher;

beforeAll(async () => {
  // Rotation on: a refresh token that is not stored at once is lost for good.
  ({ app, sim } = await startSimulatedApp({ rotateRefreshTokens: true }));
  table = await createTestTable('sweep-scale');
  cipher = await cipherSource(memorySecrets([app]))(app.appId);
});

afterAll(async () => {
  await sim.stop();
  await table.drop();
});

const failedTotal = (summary: RefreshSummary) => Object.values(summary.failed).reduce((sum, count) => sum + count, 0);
const skippedTotal = (summary: RefreshSummary) => Object.values(summary.skipped).reduce((sum, count) => sum + count, 0);

async function scanAll(): Promise<InstanceItem[]> {
  const items: InstanceItem[] = [];
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page = await table.documentClient.send(new ScanCommand({ TableName: table.tableName, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as InstanceItem[]));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

describe('sweep at scale', () => {
  it('refreshes 1,000 instances with 30 % of Wix calls failing and two sweeps racing: no refresh token lost, none refreshed twice, every failure classified', async () => {
    // Arrange: half legacy (real refresh tokens from code exchanges), half client credentials, all due and hot.
    const counter = grantCounter();
    // The arrangement's and the final check's own calls: given all the time a busy machine needs.
    const wix = createWixClient({ baseUrl: sim.url, fetch: counter.fetch, attemptTimeoutMs: 60_000 });
    const now = Date.now();
    const instances: BulkInstance[] = [];
    await inPool(INSTANCES, 32, async (index) => {
      const key = { appId: app.appId, instanceId: randomUUID() };
      const seed = { key, dueAt: now - Math.floor(Math.random() * 600_000), lastUsedAt: now - 60_000 };
      if (index % 2 === 0) {
        const tokens = await wix.exchangeCode(app, sim.issueCode(app.appId, key.instanceId));
        counter.own(tokens.refreshToken, key.instanceId);
        instances.push({ ...seed, grantKind: GrantKind.Legacy, refreshToken: tokens.refreshToken });
      } else {
        sim.install(app.appId, key.instanceId);
        instances.push({ ...seed, grantKind: GrantKind.ClientCredentials });
      }
    });
    await bulkSeed(table.documentClient, table.tableName, cipher, instances);
    const legacy = instances.filter((instance) => instance.grantKind === GrantKind.Legacy);
    const clientCredentials = instances.filter((instance) => instance.grantKind === GrantKind.ClientCredentials);
    const gone = new Set([...legacy.slice(0, UNINSTALLED_PER_KIND), ...clientCredentials.slice(0, UNINSTALLED_PER_KIND)].map((i) => i.key.instanceId));
    for (const instanceId of gone) sim.uninstall(app.appId, instanceId);
    counter.grants.clear();
    // Six fault kinds, each at the rate that makes 30 % of calls fail in all.
    const rate = 1 - (1 - FAILURE_RATE) ** (1 / FAULTS.length);
    for (const fault of FAULTS) sim.intercept(fault({ rate }));
    sim.resetCalls();
    // Refresh calls the sweeps gave up on before Wix's answer was read (the attempt's timeout or the
    // deadline fired: counter.abandoned). A rotating Wix may have rotated the token all the same:
    // that token is lost with the answer, the residual risk SECURITY.md names, and on a busy machine
    // it happens. Any other lost refresh token is a defect.
    const abandoned = counter.abandoned;
    const secondClient = localDynamoDbClient();
    const containers = [table.documentClient, DynamoDBDocumentClient.from(secondClient)].map((documentClient) =>
      refreshContainer({ documentClient, tableName: table.tableName, wixUrl: sim.url, app, fetch: counter.fetch }),
    );

    // Act: two containers sweep the same table at once.
    const summaries = await Promise.all(containers.map(({ deps }) => sweep(deps, { budgetMs: 60_000, concurrency: 16 })));
    secondClient.destroy();

    // Assert: each summary accounts for everything it read.
    for (const summary of summaries) {
      expect(summary.examined).toBe(summary.refreshed + failedTotal(summary) + skippedTotal(summary) + summary.leftForNextRun);
      expect(summary).toMatchObject({ complete: true, leftForNextRun: 0, fellBack: 0 });
      expect(summary.skipped).toMatchObject({ dormant: 0, uninstalled: 0, not_found: 0, app_unavailable: 0 });
      expect(summary.failed).toMatchObject({ credentials_rejected: 0, bad_request: 0, secrets: 0, store: 0, conflict: 0, decryption: 0 });
    }
    const [a, b] = summaries as [RefreshSummary, RefreshSummary];
    const refreshed = a.refreshed + b.refreshed;
    const transient = a.failed.transient + b.failed.transient;
    const refused = a.failed.grant_invalid + b.failed.grant_invalid;
    // Each instance was dealt with by exactly one of the two sweeps; the other skipped it.
    expect(refreshed + transient + refused).toBe(INSTANCES);
    expect(a.refreshed).toBeGreaterThan(0);
    expect(b.refreshed).toBeGreaterThan(0);
    expect(sim.calls.total).toBeGreaterThan(INSTANCES);
    // No instance got two tokens in this window, and every success was counted.
    expect(Math.max(...counter.grants.values())).toBe(1);
    expect(counter.grants.size).toBe(refreshed);
    expect([...counter.grants.keys()].filter((instanceId) => gone.has(instanceId))).toEqual([]);

    // The table agrees with the summaries, failure class by failure class.
    const items = await scanAll();
    expect(items).toHaveLength(INSTANCES);
    expect(items.filter((item) => item.leaseOwner !== undefined)).toEqual([]);
    expect(items.filter((item) => item.errorKind === 'transient')).toHaveLength(transient);
    expect(items.filter((item) => item.errorKind === 'grant_invalid')).toHaveLength(refused);
    expect(items.filter((item) => item.status === InstanceStatus.NeedsReauth)).toHaveLength(a.needsReauth + b.needsReauth);
    expect(items.filter((item) => item.status === InstanceStatus.NeedsReauth).every((item) => gone.has(item.instanceId))).toBe(true);
    expect(items.filter((item) => item.dueAt !== undefined && item.dueAt <= now)).toEqual([]);
    expect(items.filter((item) => item.errorKind === undefined && !gone.has(item.instanceId))).toHaveLength(refreshed);

    // No refresh token lost: every installed legacy instance holds one that Wix accepts now, but for
    // an answer the sweep never read (above).
    sim.clearIntercepts();
    const byId = new Map(items.map((item) => [item.instanceId, item]));
    const rejected: string[] = [];
    const lostWithAnAnswer: string[] = [];
    await inPool(legacy.length, 32, async (index) => {
      const { key } = legacy[index] as BulkInstance;
      if (gone.has(key.instanceId)) return;
      const item = byId.get(key.instanceId) as InstanceItem;
      expect(item.grantKind).toBe(GrantKind.Legacy);
      try {
        await wix.refreshAccessToken(app, cipher.decrypt(item.refreshToken as string, cipherContext(key), 'refreshToken'));
      } catch (error) {
        if (!(error instanceof WixOAuthError)) throw error;
        (abandoned.has(key.instanceId) ? lostWithAnAnswer : rejected).push(`${key.instanceId}: ${error.code}`);
      }
    });
    expect(rejected).toEqual([]);
    if (lostWithAnAnswer.length > 0) console.log(`sweep at scale: ${lostWithAnAnswer.length} refresh tokens lost with an answer the sweep gave up on (${abandoned.size} calls abandoned)`);
    expect(lostWithAnAnswer.length).toBeLessThanOrEqual(abandoned.size);
  }, 120_000);
});
