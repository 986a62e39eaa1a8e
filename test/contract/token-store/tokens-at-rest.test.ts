import { inspect } from 'node:util';

import { ScanCommand } from '@aws-sdk/client-dynamodb';

import { DecryptionError } from '../../../lib/crypto';
import { TokenConflictError } from '../../../lib/store';
import { fakeToken, installTokens, newInstance, STORE_KINDS, useStoreFixture } from '../../support/token-store';

const HOUR = 3_600_000;

describe.each(STORE_KINDS)('%s token store: tokens at rest', (kind) => {
  const f = useStoreFixture('at-rest', kind);

  /** Two instances whose tokens went through every token write: install, refresh (rotation), reinstall. */
  async function storeEverywhere(): Promise<{ plaintexts: string[]; key: ReturnType<typeof newInstance>; rotatedRefresh: string; mintedAccess: string }> {
    const key = newInstance();
    const plaintexts = [fakeToken('refresh'), fakeToken('access'), fakeToken('refresh'), fakeToken('access')];
    const [installRefresh, installAccess, rotatedRefresh, mintedAccess] = plaintexts as [string, string, string, string];
    await f.store.storeInstallTokens(
      key,
      installTokens(f.clock.now, { refreshToken: installRefresh, accessToken: installAccess, refreshDueAt: f.clock.now + HOUR }),
    );
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
    await f.store.storeInstallTokens(other, installTokens(f.clock.now, { refreshToken: installRefresh, accessToken: installAccess }));
    return { plaintexts, key, rotatedRefresh, mintedAccess };
  }

  it('stores no plaintext token: the stored items hold none, yet the store reads them back', async () => {
    const { plaintexts, key, rotatedRefresh, mintedAccess } = await storeEverywhere();

    const items = await f.rawItems();
    const raw = JSON.stringify(items);
    const read = await f.store.getInstance(key);

    for (const plaintext of plaintexts) {
      expect(raw).not.toContain(plaintext);
      // Not even the random part, in case something re-encoded the prefix.
      expect(raw).not.toContain(plaintext.slice(-36));
    }
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) {
      expect(item.refreshToken).toMatch(/^v2\./);
      expect(item.accessToken).toMatch(/^v2\./);
    }
    expect(read).toMatchObject({ refreshToken: rotatedRefresh, accessToken: mintedAccess });
  });

  if (kind === 'dynamodb') {
    it('stores no plaintext token: a scan of the raw table finds none', async () => {
      const table = f.table;
      if (table === undefined) throw new Error('arrange: no table');
      const { plaintexts } = await storeEverywhere();

      const output = await table.client.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true }));
      const raw = JSON.stringify(output.Items);

      for (const plaintext of plaintexts) {
        expect(raw).not.toContain(plaintext);
        expect(raw).not.toContain(plaintext.slice(-36));
      }
      expect(raw).toContain('"refreshToken":{"S":"v2.');
    });
  }

  it('fails to decrypt a token envelope copied into another instance item', async () => {
    const victim = newInstance();
    const thief = newInstance(victim.appId);
    for (const key of [victim, thief]) {
      await f.store.storeInstallTokens(key, installTokens(f.clock.now));
    }
    const victimItem = await f.rawItem(victim);
    await f.setRawAttributes(thief, { refreshToken: victimItem?.refreshToken ?? 'missing' });

    await expect(f.store.getInstance(thief, { consistentRead: true })).rejects.toBeInstanceOf(DecryptionError);
  });

  it('keeps the tokens of a conflict record out of the error message, JSON and inspection', async () => {
    const key = newInstance();
    const refresh = fakeToken('refresh');
    const access = fakeToken('access');
    await f.store.storeInstallTokens(key, installTokens(f.clock.now, { refreshToken: refresh, accessToken: access }));
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
