import { randomUUID } from 'node:crypto';

import { GetCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import {
  createDynamoInstallStateStore,
  createDynamoTokenStore,
  createMemoryInstallStateStore,
  createMemoryTokenStore,
  type InstallStateStore,
  type InstallTokens,
  type InstanceKey,
  type TokenStore,
} from '../../lib/store';
import { instancePk, type InstanceItem } from '../../lib/store/item';
import { memoryEngine } from '../../lib/store/memory-token-store';
import { createTokenStore, type ItemEngine, type TokenStoreDeps } from '../../lib/store/token-store';
import { createTestTable, type TestTable } from './dynamodb-table';
import { fakeToken } from './leases';
import { testCipherFor } from './token-cipher';

/** The arranging helpers the contract tests share; they live in ./leases (no DynamoDB in them). */
export { failUnderLease, fakeToken, grantRefused, storeUnderLease, takeLease, wixUnavailable, type ArrangedFailure } from './leases';

/** The stores the contract suite (test/contract/token-store) runs against. */
export const STORE_KINDS = ['memory', 'dynamodb'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** A settable clock, epoch ms. */
export interface TestClock {
  now: number;
}

/** One call a store made to the storage underneath, in the same words for both kinds. */
export type StorageCall = 'read' | 'write' | 'query';

/** What another store on the same storage may differ in. */
export interface StoreOverrides extends Partial<Omit<TokenStoreDeps, 'engine'>> {
  /** Told of every call the store makes to the storage (a GetItem or engine read, ...). */
  onCall?: (call: StorageCall) => void;
}

/** A fresh storage (a DynamoDB Local table, or a Map), a store on it with a settable clock, and raw access. */
export interface StoreFixture {
  kind: StoreKind;
  clock: TestClock;
  store: TokenStore;
  /** The install states, on the same storage and clock. */
  states: InstallStateStore;
  cipherFor: TokenStoreDeps['cipherFor'];
  /** Another store on the same storage; defaults to the fixture's clock and cipher. */
  makeStore(overrides?: StoreOverrides): TokenStore;
  /** The stored item as the storage holds it (tokens as ciphertexts), by a consistent read. */
  rawItem(key: InstanceKey): Promise<InstanceItem | undefined>;
  /** Every stored instance item (install states excluded), tokens as ciphertexts. */
  rawItems(): Promise<InstanceItem[]>;
  /** Overwrites attributes of a stored item behind the store's back (tampering, corrupt data). */
  setRawAttributes(key: InstanceKey, attributes: Partial<InstanceItem>): Promise<void>;
  /** The DynamoDB Local table; only for kind `dynamodb`. */
  table?: TestTable;
  /** Drops the table (DynamoDB); call it in afterAll. */
  drop(): Promise<void>;
}

const STATE_PREFIX = 'state#';

/** Creates the storage (for DynamoDB, a table from infra/dynamodb-table.yml) and the store; call `drop()` in afterAll. */
export async function createStoreFixture(prefix: string, kind: StoreKind = 'dynamodb'): Promise<StoreFixture> {
  const clock: TestClock = { now: Date.UTC(2030, 0, 1) };
  const cipherFor = testCipherFor();
  return kind === 'dynamodb' ? dynamoFixture(prefix, clock, cipherFor) : memoryFixture(clock, cipherFor);
}

/**
 * A fixture for one `describe.each(STORE_KINDS)` block: created in beforeAll, dropped in afterAll.
 * The object returned is filled in by that beforeAll, so read it only inside hooks and tests.
 */
export function useStoreFixture(prefix: string, kind: StoreKind): StoreFixture {
  const fixture = {} as StoreFixture;
  beforeAll(async () => {
    Object.assign(fixture, await createStoreFixture(prefix, kind));
  });
  afterAll(async () => {
    await fixture.drop();
  });
  return fixture;
}

async function dynamoFixture(prefix: string, clock: TestClock, cipherFor: TokenStoreDeps['cipherFor']): Promise<StoreFixture> {
  const table = await createTestTable(prefix);
  const { documentClient, tableName } = table;
  const makeStore = ({ onCall, ...overrides }: StoreOverrides = {}) =>
    createDynamoTokenStore({
      documentClient: onCall === undefined ? documentClient : countingDocumentClient(documentClient, onCall),
      tableName,
      cipherFor,
      now: () => clock.now,
      ...overrides,
    });
  const rawItems = async () => {
    const items: InstanceItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await documentClient.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }));
      items.push(...((page.Items ?? []) as InstanceItem[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items.filter((item) => !item.pk.startsWith(STATE_PREFIX));
  };
  return {
    kind: 'dynamodb',
    clock,
    cipherFor,
    store: makeStore(),
    states: createDynamoInstallStateStore({ documentClient, tableName, now: () => clock.now }),
    makeStore,
    async rawItem(key) {
      const output = await documentClient.send(new GetCommand({ TableName: tableName, Key: { pk: instancePk(key) }, ConsistentRead: true }));
      return output.Item as InstanceItem | undefined;
    },
    rawItems,
    async setRawAttributes(key, attributes) {
      const names = Object.keys(attributes);
      await documentClient.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: instancePk(key) },
          UpdateExpression: `SET ${names.map((_, i) => `#a${i} = :v${i}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#a${i}`, name])),
          ExpressionAttributeValues: Object.fromEntries(names.map((name, i) => [`:v${i}`, (attributes as Record<string, unknown>)[name]])),
        }),
      );
    },
    table,
    drop: () => table.drop(),
  };
}

function memoryFixture(clock: TestClock, cipherFor: TokenStoreDeps['cipherFor']): StoreFixture {
  const store = createMemoryTokenStore({ cipherFor, now: () => clock.now });
  // The same Map the store writes: createMemoryTokenStore hands it out read-only, for tests.
  const items = store.items as Map<string, InstanceItem>;
  const makeStore = ({ onCall, ...overrides }: StoreOverrides = {}) => {
    const engine = memoryEngine(items);
    return createTokenStore({
      engine: onCall === undefined ? engine : countingEngine(engine, onCall),
      cipherFor,
      now: () => clock.now,
      ...overrides,
    });
  };
  return {
    kind: 'memory',
    clock,
    cipherFor,
    store,
    states: createMemoryInstallStateStore({ now: () => clock.now }),
    makeStore,
    async rawItem(key) {
      const item = items.get(instancePk(key));
      return item === undefined ? undefined : { ...item };
    },
    async rawItems() {
      return [...items.values()].map((item) => ({ ...item }));
    },
    async setRawAttributes(key, attributes) {
      const pk = instancePk(key);
      items.set(pk, { ...(items.get(pk) as InstanceItem), ...attributes, pk });
    },
    drop: async () => undefined,
  };
}

const CALL_OF_COMMAND: Record<string, StorageCall> = { GetCommand: 'read', UpdateCommand: 'write', QueryCommand: 'query' };

function countingDocumentClient(client: Pick<DynamoDBDocumentClient, 'send'>, onCall: (call: StorageCall) => void): Pick<DynamoDBDocumentClient, 'send'> {
  return {
    send: ((command: { constructor: { name: string } }, ...rest: unknown[]) => {
      const name = command.constructor.name;
      onCall(CALL_OF_COMMAND[name] ?? (name as StorageCall));
      return (client.send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as DynamoDBDocumentClient['send'],
  };
}

/** Which storage call each engine method is, as the contract tests count them. */
const CALL_OF_ENGINE_METHOD: Record<keyof ItemEngine, StorageCall> = {
  get: 'read',
  write: 'write',
  queryDueShard: 'query',
  queryStatus: 'query',
  scanEnvelopes: 'query',
};

function countingEngine(engine: ItemEngine, onCall: (call: StorageCall) => void): ItemEngine {
  const counted = (name: keyof ItemEngine) =>
    (...args: unknown[]) => {
      onCall(CALL_OF_ENGINE_METHOD[name]);
      return (engine[name] as (...args: unknown[]) => unknown).apply(engine, args);
    };
  return Object.fromEntries(Object.keys(CALL_OF_ENGINE_METHOD).map((name) => [name, counted(name as keyof ItemEngine)])) as unknown as ItemEngine;
}

/** A new random instance of a new random app. */
export function newInstance(appId: string = randomUUID()): InstanceKey {
  return { appId, instanceId: randomUUID() };
}

/** Install-callback tokens (fresh fake values) installed at `at`, the access token good for five minutes, not due; `overrides` e.g. a due time. */
export function installTokens(at: number, overrides: Partial<InstallTokens> = {}): InstallTokens {
  return { refreshToken: fakeToken('refresh'), accessToken: fakeToken('access'), accessTokenExpiresAt: at + 300_000, installedAt: at, refreshDueAt: null, ...overrides };
}
