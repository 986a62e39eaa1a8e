/**
 * bench/sweep: how fast the refresh sweep goes, and what it reads to find its work.
 *
 * 1. Throughput (instances refreshed per second) at several concurrency levels against the
 *    simulator at a fixed latency, as a fraction of the ceiling that latency allows
 *    (concurrency / latency). Each level sweeps its own table of due, hot client-credentials
 *    instances. A run at latency 0 shows what DynamoDB Local alone allows on this machine.
 * 2. Items read per item refreshed, for 100,000 stored instances of which 1,000 are due: every
 *    Query's ScannedCount and every GetItem, counted by a client middleware that also asks for
 *    ConsumedCapacity (INDEXES).
 *
 * Starts its own DynamoDB Local (free loopback port) and simulator; `npx tsx bench/sweep.ts`.
 */
import { randomUUID } from 'node:crypto';

import { demoAppSecret } from '../infra/local/demo-app';
import { startWixSimulator } from '../infra/local/wix-simulator';
import { cipherSource } from '../lib/runtime';
import { GrantKind } from '../lib/store';
import { sweep } from '../lib/tokens/sweep';
import { staticSecrets } from '../test/support/mint-fixture';
import { bulkSeed, refreshContainer, type BulkInstance } from '../test/support/refresh-fixture';
import { emptyMeter, instrument, report, startBenchDynamoDb } from './support';

const WIX_LATENCY_MS = 100;
const CONCURRENCY_LEVELS = [1, 4, 16, 64];
/** Instances per level: about four seconds at the ceiling, within bounds. */
const instancesFor = (concurrency: number) => Math.min(2000, Math.max(40, 40 * concurrency));
const STORED = 100_000;
const DUE = 1_000;
const MINUTE = 60_000;

async function main(): Promise<void> {
  const dynamo = await startBenchDynamoDb();
  const sim = await startWixSimulator();
  const { client, documentClient } = dynamo;
  let meter = emptyMeter();
  instrument(client, () => meter);
  const app = demoAppSecret(randomUUID());
  sim.addApp({ appId: app.appId, appSecret: app.appSecret });
  const cipher = await cipherSource(staticSecrets(app))(app.appId);

  /** A fresh table holding `due` due, hot client-credentials instances and `idle` others. */
  async function table(due: number, idle = 0): Promise<string> {
    const tableName = await dynamo.createTable('bench-sweep');
    const now = Date.now();
    const instances: BulkInstance[] = [];
    for (let i = 0; i < due; i++) {
      const key = { appId: app.appId, instanceId: sim.install(app.appId) };
      instances.push({ key, grantKind: GrantKind.ClientCredentials, dueAt: now - MINUTE, lastUsedAt: now - MINUTE });
    }
    for (let i = 0; i < idle; i++) {
      // Half wait in the index for later, half are not in it at all (nothing to refresh).
      const key = { appId: app.appId, instanceId: randomUUID() };
      instances.push({ key, grantKind: GrantKind.ClientCredentials, ...(i % 2 === 0 ? { dueAt: now + 60 * MINUTE + i } : {}), lastUsedAt: now });
    }
    await bulkSeed(documentClient, tableName, cipher, instances, 16);
    return tableName;
  }

  const run = async (tableName: string, concurrency: number) => {
    const { deps } = refreshContainer({ documentClient, tableName, wixUrl: sim.url, app });
    return sweep(deps, { budgetMs: 600_000, concurrency });
  };

  try {
    // Warm the JVM and the sockets.
    sim.setLatency(0);
    await run(await table(300), 16);

    const figures: Record<string, unknown> = { 'simulated Wix latency ms': WIX_LATENCY_MS };
    sim.setLatency(WIX_LATENCY_MS);
    for (const concurrency of CONCURRENCY_LEVELS) {
      const count = instancesFor(concurrency);
      const summary = await run(await table(count), concurrency);
      if (summary.refreshed !== count) throw new Error(`concurrency ${concurrency}: refreshed ${summary.refreshed} of ${count}`);
      const rate = summary.refreshed / (summary.durationMs / 1000);
      const ceiling = concurrency / (WIX_LATENCY_MS / 1000);
      figures[`c=${concurrency}: instances/s (${count} swept)`] = rate;
      figures[`c=${concurrency}: fraction of ceiling (${ceiling}/s)`] = rate / ceiling;
    }

    sim.setLatency(0);
    const seedStarted = performance.now();
    const big = await table(DUE, STORED - DUE);
    figures[`seeding ${STORED} items (BatchWriteItem), s`] = (performance.now() - seedStarted) / 1000;
    meter = emptyMeter();
    const summary = await run(big, 32);
    const itemsRead = meter.scannedItems + meter.itemsGot;
    Object.assign(figures, {
      [`${STORED} stored, ${DUE} due: refreshed`]: summary.refreshed,
      'index items read (Query ScannedCount)': meter.scannedItems,
      'table items read (GetItem)': meter.itemsGot,
      'Query calls': (meter.commands['QueryCommand'] ?? 0),
      'items read per item refreshed': itemsRead / summary.refreshed,
      'UpdateItem per item refreshed (lease + write)': (meter.commands['UpdateItemCommand'] ?? 0) / summary.refreshed,
      'read units per item refreshed (DDB Local)': meter.readUnits / summary.refreshed,
      'write units per item refreshed (DDB Local)': meter.writeUnits / summary.refreshed,
      'sweep duration s': summary.durationMs / 1000,
    });
    // Last, with the JVM warm: what DynamoDB Local alone allows on this machine (Wix answering at once).
    const storeBound = await run(await table(2000), 64);
    figures['latency 0, concurrency 64: instances/s (DynamoDB Local bound)'] = storeBound.refreshed / (storeBound.durationMs / 1000);
    report('sweep', figures);
  } finally {
    await sim.stop();
    await dynamo.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

