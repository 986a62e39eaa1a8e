import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { DynamoDBClient, type ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../infra/local/dynamodb-local';
import { createTable } from '../lib/store/table-definition';

// The AWS SDK warns about Node 20 on every client; the figures are easier to read without it.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** The value at quantile `q` (0..1) of `values`, nearest rank. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function runPool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  });
  await Promise.all(workers);
}

/** Prints the figures as a table and writes them to bench/results/<name>.json. */
export function report(name: string, figures: Record<string, unknown>): void {
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ benchmark: name, at: new Date().toISOString(), node: process.version, ...figures }, null, 2)}\n`);
  console.log(`\n== bench/${name} (${process.version})`);
  for (const [key, value] of Object.entries(figures)) {
    console.log(`${key.padEnd(44)} ${typeof value === 'number' ? round(value) : JSON.stringify(value)}`);
  }
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 3 : 1);
}

/** What a benchmark counts of its DynamoDB traffic; reset it by swapping in a new {@link emptyMeter}. */
export interface DynamoMeter {
  calls: number;
  /** Calls by SDK command name, e.g. `UpdateItemCommand`. */
  commands: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  tableUnits: number;
  indexUnits: number;
  /** Items a Query or Scan examined (ScannedCount). */
  scannedItems: number;
  /** Items a GetItem found. */
  itemsGot: number;
}

export const emptyMeter = (): DynamoMeter => ({
  calls: 0,
  commands: {},
  readUnits: 0,
  writeUnits: 0,
  tableUnits: 0,
  indexUnits: 0,
  scannedItems: 0,
  itemsGot: 0,
});

const READ_COMMANDS = new Set(['GetCommand', 'GetItemCommand', 'QueryCommand', 'ScanCommand']);

/** Counts every call on `client` into `meter()` and asks DynamoDB for the capacity each one used. */
export function instrument(client: DynamoDBClient, meter: () => DynamoMeter): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'INDEXES';
      const m = meter();
      const command = context.commandName ?? 'unknown';
      m.calls += 1;
      m.commands[command] = (m.commands[command] ?? 0) + 1;
      const result = await next(args);
      const output = result.output as { ScannedCount?: number; Item?: unknown; ConsumedCapacity?: ConsumedCapacity };
      m.scannedItems += output.ScannedCount ?? 0;
      if (command === 'GetItemCommand' && output.Item !== undefined) m.itemsGot += 1;
      const consumed = output.ConsumedCapacity;
      if (consumed !== undefined) {
        const units = consumed.CapacityUnits ?? 0;
        if (READ_COMMANDS.has(command)) m.readUnits += units;
        else m.writeUnits += units;
        m.tableUnits += consumed.Table?.CapacityUnits ?? 0;
        for (const index of Object.values(consumed.GlobalSecondaryIndexes ?? {})) m.indexUnits += index.CapacityUnits ?? 0;
      }
      return result;
    },
    { step: 'initialize', name: 'benchDynamoMeter' },
  );
}

/** DynamoDB Local on a free port with a client and a document client on it. */
export interface BenchDynamoDb {
  endpoint: string;
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  /** A fresh table from infra/dynamodb-table.yml; returns its name. */
  createTable(prefix: string): Promise<string>;
  /** Closes the clients and stops DynamoDB Local. */
  stop(): Promise<void>;
}

export async function startBenchDynamoDb(): Promise<BenchDynamoDb> {
  const dynamo = await startDynamoDbLocal();
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const documentClient = DynamoDBDocumentClient.from(client);
  return {
    endpoint: dynamo.endpoint,
    client,
    documentClient,
    async createTable(prefix) {
      const tableName = `${prefix}-${randomUUID()}`;
      await createTable(client, tableName, { deletionProtection: false });
      return tableName;
    },
    async stop() {
      documentClient.destroy();
      client.destroy();
      await dynamo.stop();
    },
  };
}
