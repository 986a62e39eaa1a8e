import { inspect } from 'node:util';

import { ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';

import { DecryptionError } from '../../../../lib/crypto';
import { TokenConflictError } from '../../../../lib/store';
import { createStoreFixture, fakeToken, newInstance, type StoreFixture } from '../../../support/token-store';

const HOUR = 3_600_000;

describe('DynamoDB token store: tokens at rest', () => {
  let f: StoreFixture;

  beforeAll(async () => {
    f = await createStoreFixture('at-rest');
  });

  afterAll(async () => {
    await f.table.drop();
  });

  async function rawTable(): Promise<string> {
    const output = await f.table.client.send(new ScanCommand({ TableName: f.table.tableName, ConsistentRead: true }));
    return JSON.stringify(output.Items);
  }

  it('stores no plaintext token: a scan of the raw table finds none, yet the store reads them back', async () => {
    const key = newInstance();
    const plaintexts = [fakeToken('refresh'), fakeToken('access'), fakeToken('refresh'), fakeToken('access')];
    const [installRefresh, installAccess, rotatedRefresh, mintedAccess] = plaintexts as [string, string, string, string];
    await f.store.storeInstallTokens(key, {
      refreshToken: installRefresh,
      accessToken: installAccess,
      accessTokenExpiresAt: f.clock.now + 300_000,
      installedAt: f.clock.now,
      refreshDueAt: f.clock.now + HOUR,
    });
    const held = await f.store.acquireLease(key, { owner: 'refresher' });
    if (!held.acquired) throw new Error('arrange: no lease');
    await f.store.storeLeasedTokens(key, {
      owner: 'refresher',
      expectedVersion: held.record.version,
      accessToken: mintedAccess,
      accessTokenExpiresAt: f.clock.now + HOUR,
      refreshToken: rotatedRefresh,
      refreshDueAt: f.clock.now + HOUR,
    });
    const other = newInstance();
    await f.store.storeInstallTokens(other, {
      refreshToken: installRefresh,
      accessToken: installAccess,
      accessTokenExpiresAt: f.clock.now + 300_000,
      installedAt: f.clock.now,
      refreshDueAt: null,
    });

    const raw = await rawTable();
    const read = await f.store.getInstance(key);

    for (const plaintext of plaintexts) {
      expect(raw).not.toContain(plaintext);
      // Not even the random part, in case something re-encoded the prefix.
      expect(raw).not.toContain(plaintext.slice(-36));
    }
    expect(raw).toContain('"refreshToken":{"S":"v1.');
    expect(read).toMatchObject({ refreshToken: rotatedRefresh, accessToken: mintedAccess });
  });

  it('fails to decrypt a token envelope copied into another instance item', async () => {
    const victim = newInstance();
    const thief = newInstance(victim.appId);
    for (const key of [victim, thief]) {
      await f.store.storeInstallTokens(key, {
        refreshToken: fakeToken('refresh'),
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: f.clock.now + 300_000,
        installedAt: f.clock.now,
        refreshDueAt: null,
      });
    }
    const scan = await f.table.client.send(new ScanCommand({ TableName: f.table.tableName, ConsistentRead: true }));
    const victimItem = scan.Items?.find((item) => item.pk?.S === `${victim.appId}#${victim.instanceId}`);
    await f.table.client.send(
      new UpdateItemCommand({
        TableName: f.table.tableName,
        Key: { pk: { S: `${thief.appId}#${thief.instanceId}` } },
        UpdateExpression: 'SET refreshToken = :stolen',
        ExpressionAttributeValues: { ':stolen': victimItem?.refreshToken ?? { S: 'missing' } },
      }),
    );

    await expect(f.store.getInstance(thief, { consistentRead: true })).rejects.toBeInstanceOf(DecryptionError);
  });

  it('keeps the tokens of a conflict record out of the error message, JSON and inspection', async () => {
    const key = newInstance();
    const refresh = fakeToken('refresh');
    const access = fakeToken('access');
    await f.store.storeInstallTokens(key, {
      refreshToken: refresh,
      accessToken: access,
      accessTokenExpiresAt: f.clock.now + 300_000,
      installedAt: f.clock.now,
      refreshDueAt: null,
    });
    const held = await f.store.acquireLease(key, { owner: 'a' });
    if (!held.acquired) throw new Error('arrange: no lease');

    const error = await f.store
      .storeLeasedTokens(key, {
        owner: 'a',
        expectedVersion: held.record.version - 1,
        accessToken: fakeToken('access'),
        accessTokenExpiresAt: f.clock.now + HOUR,
        refreshDueAt: null,
      })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TokenConflictError);
    expect((error as TokenConflictError).current?.refreshToken).toBe(refresh);
    const shown = [String(error), JSON.stringify(error), inspect(error, { depth: 10 }), (error as Error).stack ?? ''].join('\n');
    expect(shown).not.toContain(refresh);
    expect(shown).not.toContain(access);
    expect(shown).not.toContain('v1.');
  });
});
