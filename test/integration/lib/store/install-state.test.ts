import { randomUUID } from 'node:crypto';

import { ScanCommand } from '@aws-sdk/client-dynamodb';

import { createStoreFixture, type StoreFixture } from '../../../support/token-store';

describe('DynamoDB token store: consumeState', () => {
  let f: StoreFixture;

  beforeAll(async () => {
    f = await createStoreFixture('state');
  });

  afterAll(async () => {
    await f.table.drop();
  });

  it('accepts a state once and refuses it afterwards', async () => {
    const state = randomUUID();
    const expiresAt = f.clock.now + 600_000;

    const first = await f.store.consumeState(state, expiresAt);
    const second = await f.store.consumeState(state, expiresAt);

    expect(first).toBe(true);
    expect(second).toBe(false);
  });

  it('lets exactly one of several concurrent callbacks consume the same state', async () => {
    const state = randomUUID();

    const results = await Promise.all(Array.from({ length: 8 }, () => f.store.consumeState(state, f.clock.now + 600_000)));

    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('refuses an expired state without consuming it', async () => {
    const state = randomUUID();

    const expired = await f.store.consumeState(state, f.clock.now);

    expect(expired).toBe(false);
  });

  it('lets a released state be consumed once more, and only once', async () => {
    const state = randomUUID();
    const expiresAt = f.clock.now + 600_000;
    await f.store.consumeState(state, expiresAt);

    await f.store.releaseState(state);
    const again = await f.store.consumeState(state, expiresAt);
    const third = await f.store.consumeState(state, expiresAt);

    expect(again).toBe(true);
    expect(third).toBe(false);
  });

  it('treats releasing a state that was never consumed as a no-op', async () => {
    const state = randomUUID();

    await f.store.releaseState(state);
    const consumed = await f.store.consumeState(state, f.clock.now + 600_000);

    expect(consumed).toBe(true);
  });

  it('stores a hash of the state with a ttl in epoch seconds, never the state itself', async () => {
    const state = randomUUID();
    const expiresAt = f.clock.now + 600_000;
    await f.store.consumeState(state, expiresAt);

    const scan = await f.table.client.send(new ScanCommand({ TableName: f.table.tableName, ConsistentRead: true }));
    const raw = JSON.stringify(scan.Items);

    expect(raw).not.toContain(state);
    expect(scan.Items?.some((item) => item.ttl?.N === String(Math.ceil(expiresAt / 1000)))).toBe(true);
    expect(scan.Items?.every((item) => item.pk?.S?.startsWith('state#') === true)).toBe(true);
  });
});
