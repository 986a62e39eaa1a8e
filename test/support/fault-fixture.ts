import { randomUUID } from 'node:crypto';

import { ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import type { DemoAppSecret } from '../../infra/local/demo-app';
import { mulberry32, type WixSimulator } from '../../infra/local/wix-simulator';
import { cipherSource } from '../../lib/runtime';
import { createDynamoTokenStore, DEFAULT_DUE_SHARDS, dueShardOf, GrantKind, InstanceStatus, type InstanceKey } from '../../lib/store';
import { createWixClient } from '../../lib/wix';
import type { TestTable } from './dynamodb-table';
import { staticSecrets } from './mint-fixture';

/**
 * What the fault runs (test/integration/faults, issue 8) share: DynamoDB failures injected at the
 * document client, a watcher that checks every version a reader can see, and the consistency
 * check each run ends with.
 */

/** How an injected DynamoDB failure looks to the store. */
export const DynamoFault = {
  /** Throttled after the SDK's retries; nothing was written. */
  Throttled: 'throttled',
  /** ProvisionedThroughputExceededException; nothing was written. */
  Throughput: 'throughput',
  /** A 500 from DynamoDB; nothing was written. */
  Internal: 'internal',
  /** The SDK timed out before sending; nothing was written. */
  TimeoutBefore: 'timeout-before',
  /** The write happened but its answer was lost (the SDK timed out, the socket reset). */
  LostAnswer: 'lost-answer',
} as const;
export type DynamoFault = (typeof DynamoFault)[keyof typeof DynamoFault];

export interface FaultyClient extends Pick<DynamoDBDocumentClient, 'send'> {
  /** Faults injected so far, by kind. */
  readonly injected: Record<DynamoFault, number>;
  /** Calls that went through unharmed. */
  readonly passed: number;
  /** Turns injection on or off (on at the start). */
  setEnabled(on: boolean): void;
}

const ALL_FAULTS: readonly DynamoFault[] = Object.values(DynamoFault);

/**
 * A document client that fails a share of the calls it forwards, the ways DynamoDB and the SDK
 * fail once their own retries are spent. Deterministic for a seed.
 *
 * @param options.rate share of calls to fail (0..1)
 * @param options.commands only these commands (e.g. `UpdateCommand`); default all
 */
export function faultyDocumentClient(
  client: Pick<DynamoDBDocumentClient, 'send'>,
  options: { rate: number; seed?: number; kinds?: readonly DynamoFault[]; commands?: readonly string[] },
): FaultyClient {
  const random = mulberry32(options.seed ?? 8);
  const kinds = options.kinds ?? ALL_FAULTS;
  const injected = Object.fromEntries(ALL_FAULTS.map((kind) => [kind, 0])) as Record<DynamoFault, number>;
  let enabled = true;
  let passed = 0;
  const forward = (command: unknown) => (client.send as (command: unknown) => Promise<unknown>)(command);
  return {
    injected,
    get passed() {
      return passed;
    },
    setEnabled(on) {
      enabled = on;
    },
    send: (async (command: { constructor: { name: string } }) => {
      const applies = enabled && (options.commands === undefined || options.commands.includes(command.constructor.name));
      if (!applies || random() >= options.rate) {
        passed += 1;
        return forward(command);
      }
      const kind = kinds[Math.floor(random() * kinds.length)] as DynamoFault;
      injected[kind] += 1;
      if (kind === DynamoFault.LostAnswer) {
        await forward(command).catch(() => undefined);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: { attempts: 3 } });
      }
      throw sdkError(kind);
    }) as FaultyClient['send'],
  };
}

function sdkError(kind: DynamoFault): Error {
  switch (kind) {
    case DynamoFault.Throttled:
      return Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 3 } });
    case DynamoFault.Throughput:
      return Object.assign(new Error('The level of configured provisioned throughput for the table was exceeded.'), { name: 'ProvisionedThroughputExceededException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 3 } });
    case DynamoFault.Internal:
      return Object.assign(new Error('Internal server error'), { name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 3 } });
    default:
      return Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError', $metadata: { attempts: 3 } });
  }
}

/** Every item of the table, by partition key (a clean client: no faults). */
export async function scanItems(table: TestTable): Promise<Map<string, Record<string, { S?: string; N?: string }>>> {
  const items = new Map<string, Record<string, { S?: string; N?: string }>>();
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page = await table.client.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) items.set(item['pk']?.S as string, item as Record<string, { S?: string; N?: string }>);
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/**
 * Reads the whole table over and over while a run goes on and checks what any reader could see:
 * an item's version never goes back, and one version always means one content (tokens, status).
 */
export function watchVersions(table: TestTable, intervalMs = 40): { stop(): Promise<{ reads: number; violations: string[] }> } {
  const seen = new Map<string, { version: number; content: string }>();
  const violations: string[] = [];
  let reads = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      let items;
      try {
        items = await scanItems(table);
      } catch (error) {
        if (running) violations.push(`the table could not be read (${(error as Error).name})`);
        return;
      }
      for (const [pk, item] of items) {
        if (pk.startsWith('state#')) continue;
        const version = Number(item['version']?.N);
        const content = JSON.stringify([item['refreshToken']?.S, item['accessToken']?.S, item['status']?.S, item['grantKind']?.S]);
        const before = seen.get(pk);
        if (before !== undefined && version < before.version) violations.push(`${pk}: version went back from ${before.version} to ${version}`);
        if (before !== undefined && version === before.version && content !== before.content) violations.push(`${pk}: version ${version} was seen with two contents`);
        if (before === undefined || version >= before.version) seen.set(pk, { version, content });
      }
      reads += 1;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { reads, violations };
    },
  };
}

/** What {@link checkConsistency} found for a set of instances. */
export interface ConsistencyReport {
  instances: number;
  /** Legacy instances whose stored refresh token Wix no longer accepts (or that hold none): must be 0. */
  refreshTokensLost: number;
  /** Held leases that a taker-over could not take once the lease length had passed: must be 0. */
  stuckLeases: number;
  /** Anything else wrong, one line each (no token in them). */
  problems: string[];
}

/**
 * Checks each instance as the service would find it after the run: its tokens decrypt, its
 * legacy refresh token is one Wix accepts now, its access token (if any) is one Wix issued for
 * this very instance, its lease is free or can be taken over once the lease length has passed,
 * its version is a positive integer and its due-index keys agree with the record.
 */
export async function checkConsistency(options: {
  table: TestTable;
  sim: WixSimulator;
  app: DemoAppSecret;
  keys: readonly InstanceKey[];
  legacy: ReadonlySet<string>;
  /** Lease length the run's stores used. */
  leaseTtlMs: number;
}): Promise<ConsistencyReport> {
  const { table, sim, app } = options;
  const cipherFor = cipherSource(staticSecrets(app));
  const store = createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor });
  // A store whose clock is one lease length ahead: it can take over any lease a crashed or faulted holder left.
  const later = createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor, now: () => Date.now() + options.leaseTtlMs + 1 });
  const wix = createWixClient({ baseUrl: sim.url });
  const report: ConsistencyReport = { instances: options.keys.length, refreshTokensLost: 0, stuckLeases: 0, problems: [] };
  const items = await scanItems(table);

  for (const key of options.keys) {
    const name = key.instanceId.slice(0, 8);
    let record;
    try {
      record = await store.getInstance(key, { consistentRead: true });
    } catch (error) {
      report.problems.push(`${name}: the record cannot be read (${(error as Error).name})`);
      continue;
    }
    if (record === undefined) {
      report.problems.push(`${name}: no record`);
      if (options.legacy.has(key.instanceId)) report.refreshTokensLost += 1;
      continue;
    }
    if (!Number.isInteger(record.version) || record.version < 1) report.problems.push(`${name}: version ${record.version}`);
    if (record.status !== InstanceStatus.Active) report.problems.push(`${name}: status ${record.status}`);

    if (options.legacy.has(key.instanceId)) {
      if (record.grantKind !== GrantKind.Legacy) report.problems.push(`${name}: grant kind ${record.grantKind}`);
      const live = sim.liveRefreshTokens(key.appId, key.instanceId);
      if (record.refreshToken === undefined || !live.includes(record.refreshToken)) report.refreshTokensLost += 1;
    }
    if (record.accessToken !== undefined) {
      const info = await wix.getTokenInfo(record.accessToken);
      if (info.instanceId !== key.instanceId) report.problems.push(`${name}: the stored access token is not this instance's`);
    }
    if (record.refreshDueAt !== undefined) {
      const raw = items.get(`${key.appId}#${key.instanceId}`);
      if (raw?.['dueShard']?.S !== dueShardOf(key, DEFAULT_DUE_SHARDS)) report.problems.push(`${name}: due shard does not match`);
    }
    if (record.lease !== undefined) {
      const owner = `checker-${randomUUID()}`;
      const taken = await later.acquireLease(key, { owner });
      if (!taken.acquired) report.stuckLeases += 1;
      else await later.releaseLease(key, owner);
    }
  }
  return report;
}

/** Prints a fault run's figures (captured by jest with the file's output). */
export function printFigures(title: string, figures: Record<string, unknown>): void {
  const lines = Object.entries(figures).map(([name, value]) => `  ${name.padEnd(48)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  console.log(`${title}\n${lines.join('\n')}`);
}
