import { randomUUID } from 'node:crypto';

import { IssuedKind, recordIssued } from '../../infra/local/issued-values';
import { createDynamoTokenStore, type DynamoTokenStoreDeps, type InstanceKey, type TokenStore } from '../../lib/store';
import { createTestTable, type TestTable } from './dynamodb-table';
import { testCipherFor } from './token-cipher';

/** A settable clock, epoch ms. */
export interface TestClock {
  now: number;
}

/** A fresh table, a store on it with a settable clock, and a way to make more stores on the same table. */
export interface StoreFixture {
  table: TestTable;
  clock: TestClock;
  store: TokenStore;
  cipherFor: DynamoTokenStoreDeps['cipherFor'];
  /** Another store on the same table; defaults to the fixture's clock and cipher. */
  makeStore(overrides?: Partial<DynamoTokenStoreDeps>): TokenStore;
}

/** Creates the table (from infra/dynamodb-table.yml) and the store; call `table.drop()` in afterAll. */
export async function createStoreFixture(prefix: string): Promise<StoreFixture> {
  const table = await createTestTable(prefix);
  const clock: TestClock = { now: Date.UTC(2030, 0, 1) };
  const cipherFor = testCipherFor();
  const makeStore = (overrides: Partial<DynamoTokenStoreDeps> = {}) =>
    createDynamoTokenStore({
      documentClient: table.documentClient,
      tableName: table.tableName,
      cipherFor,
      now: () => clock.now,
      ...overrides,
    });
  return { table, clock, cipherFor, store: makeStore(), makeStore };
}

/** A new random instance of a new random app. */
export function newInstance(appId: string = randomUUID()): InstanceKey {
  return { appId, instanceId: randomUUID() };
}

/** Token-looking values, unique per call, so a scan can look for them. */
export function fakeToken(kind: 'access' | 'refresh'): string {
  const token = `OauthNG.JWS.${kind}-${randomUUID()}`;
  recordIssued(kind === 'access' ? IssuedKind.AccessToken : IssuedKind.RefreshToken, token);
  return token;
}
