/**
 * bench/store: what each token-store operation costs in DynamoDB calls and capacity units.
 *
 * Starts its own DynamoDB Local (test/support harness, free loopback port), creates the table from
 * infra/dynamodb-table.yml, and counts, per operation, the calls the store makes and the capacity
 * DynamoDB reports (ReturnConsumedCapacity: INDEXES, added by a client middleware, so table and
 * due-index units are told apart). Tokens are 800 characters, about the size of Wix's JWS tokens.
 *
 * Caveat: a refused conditional write reports no consumed capacity (on AWS it still costs the
 * write units of the item); those calls are counted, their units are not.
 */
import { randomUUID } from 'node:crypto';

import { createTokenCipher, generateKey } from '../lib/crypto';
import { createDynamoInstallStateStore, createDynamoTokenStore, type InstanceKey, type TokenStore } from '../lib/store';
import { emptyMeter, instrument, percentile, report, startBenchDynamoDb } from './support';

const INSTANCES = Number(process.env['BENCH_INSTANCES'] ?? 100);
const SWEEP_PAGE = 25;
const TOKEN_CHARS = 800;
const MINUTE = 60_000;

function token(): string {
  const body = Buffer.from(randomUUID().repeat(20)).toString('base64url');
  return `OauthNG.JWS.${body}`.slice(0, TOKEN_CHARS);
}

async function main(): Promise<void> {
  const dynamoDb = await startBenchDynamoDb();
  const { client, documentClient } = dynamoDb;
  try {
    const tableName = await dynamoDb.createTable('bench');
    let current = emptyMeter();
    instrument(client, () => current);

    const cipher = createTokenCipher({ currentKeyId: 'bench', keys: { bench: generateKey() } });
    let now = Date.UTC(2030, 0, 1);
    const store: TokenStore = createDynamoTokenStore({ documentClient, tableName, cipherFor: async () => cipher, now: () => now });
    const appId = randomUUID();
    const figures: Record<string, unknown> = {
      'instances per scenario': INSTANCES,
      'token length (chars)': TOKEN_CHARS,
    };

    /** Runs `op` once per instance; records per-operation calls, units and local latency. */
    async function measure(name: string, keys: readonly InstanceKey[], op: (key: InstanceKey) => Promise<void>): Promise<void> {
      current = emptyMeter();
      const latencies: number[] = [];
      for (const key of keys) {
        const started = performance.now();
        await op(key);
        latencies.push(performance.now() - started);
      }
      const n = keys.length;
      const perOp = (value: number) => Math.round((value / n) * 1000) / 1000;
      figures[name] = {
        calls: perOp(current.calls),
        commands: Object.fromEntries(Object.entries(current.commands).map(([command, count]) => [command, perOp(count)])),
        readUnits: perOp(current.readUnits),
        writeUnits: perOp(current.writeUnits),
        tableUnits: perOp(current.tableUnits),
        dueIndexUnits: perOp(current.indexUnits),
        localP50Ms: Math.round(percentile(latencies, 0.5) * 100) / 100,
      };
    }

    const fresh = (count: number) => Array.from({ length: count }, () => ({ appId, instanceId: randomUUID() }));
    const legacy = fresh(INSTANCES);
    const clientCredentials = fresh(INSTANCES);

    // Install callback: a consistent read, then a version-conditional create.
    await measure('install (code exchange store)', legacy, async (key) => {
      await store.storeInstallTokens(key, {
        refreshToken: token(),
        accessToken: token(),
        accessTokenExpiresAt: now + 5 * MINUTE,
        installedAt: now,
        refreshDueAt: now + MINUTE,
      });
    });
    await measure('AppInstalled webhook', clientCredentials, async (key) => {
      await store.recordAppInstalled(key, { eventAt: now });
    });
    await measure('AppInstalled webhook, duplicate', clientCredentials, async (key) => {
      await store.recordAppInstalled(key, { eventAt: now });
    });

    await measure('read (eventually consistent)', legacy, async (key) => {
      await store.getInstance(key);
    });
    await measure('read (consistent)', legacy, async (key) => {
      await store.getInstance(key, { consistentRead: true });
    });

    // Mint: take the lease, store the client-credentials token (which also releases the lease).
    await measure('mint-and-store (acquire lease + store token)', clientCredentials, async (key) => {
      const lease = await store.acquireLease(key, { owner: randomUUID(), createIfMissing: true });
      if (!lease.acquired) throw new Error(`lease refused: ${lease.reason}`);
      await store.storeLeasedTokens(key, {
        owner: lease.lease.owner,
        expectedVersion: lease.record.version,
        accessToken: token(),
        accessTokenExpiresAt: now + 240 * MINUTE,
        refreshDueAt: now + 230 * MINUTE,
      });
    });
    const contended = clientCredentials[0] as InstanceKey;
    await store.acquireLease(contended, { owner: 'holder', ttlMs: 60 * MINUTE });
    await measure('lease refused (another container holds it)', Array<InstanceKey>(INSTANCES).fill(contended), async (key) => {
      const lease = await store.acquireLease(key, { owner: randomUUID() });
      if (lease.acquired) throw new Error('lease should have been refused');
    });
    await store.releaseLease(contended, 'holder');

    now += MINUTE;
    await measure('touchLastUsed (applied)', clientCredentials, async (key) => {
      await store.touchLastUsed(key, now);
    });
    await measure('touchLastUsed (within the minute, refused)', clientCredentials, async (key) => {
      await store.touchLastUsed(key, now + 1000);
    });

    // Refresh sweep over the legacy instances, all due now: the index pages are spread over the items.
    now += MINUTE;
    current = emptyMeter();
    const sweepStarted = performance.now();
    let refreshed = 0;
    let cursor: string | undefined;
    do {
      const page = await store.queryDue({ now, limit: SWEEP_PAGE, ...(cursor === undefined ? {} : { cursor }) });
      for (const item of page.items) {
        const lease = await store.acquireLease(item, { owner: randomUUID() });
        if (!lease.acquired) continue;
        await store.storeLeasedTokens(item, {
          owner: lease.lease.owner,
          expectedVersion: lease.record.version,
          accessToken: token(),
          accessTokenExpiresAt: now + 5 * MINUTE,
          refreshDueAt: now + 24 * 60 * MINUTE,
        });
        refreshed += 1;
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    const sweepMs = performance.now() - sweepStarted;
    const perItem = (value: number) => Math.round((value / refreshed) * 1000) / 1000;
    figures['refresh (sweep: query due + acquire lease + store), per refreshed item'] = {
      refreshed,
      calls: perItem(current.calls),
      commands: Object.fromEntries(Object.entries(current.commands).map(([command, count]) => [command, perItem(count)])),
      readUnits: perItem(current.readUnits),
      writeUnits: perItem(current.writeUnits),
      tableUnits: perItem(current.tableUnits),
      dueIndexUnits: perItem(current.indexUnits),
      localMsPerItem: Math.round((sweepMs / refreshed) * 100) / 100,
    };
    current = emptyMeter();
    const empty = await store.queryDue({ now, limit: SWEEP_PAGE });
    figures['sweep with nothing due (all shards)'] = { items: empty.items.length, calls: current.calls, readUnits: current.readUnits };

    await measure('uninstall (AppRemoved webhook)', legacy, async (key) => {
      await store.recordAppRemoved(key, { eventAt: now });
    });
    await measure('uninstall, duplicate webhook', legacy, async (key) => {
      await store.recordAppRemoved(key, { eventAt: now });
    });
    const states = createDynamoInstallStateStore({ documentClient, tableName, now: () => now });
    await measure('consume install state (first use)', fresh(INSTANCES), async () => {
      await states.consume(randomUUID(), now + 10 * MINUTE, 'bench');
    });

    report('store', figures);
  } finally {
    await dynamoDb.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
