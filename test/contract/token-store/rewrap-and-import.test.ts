import { randomUUID } from 'node:crypto';

import { IssuedKind, recordIssued } from '../../../infra/local/issued-values';
import { createTokenCipher, envelopeKeyId, generateKey, type TokenCipher } from '../../../lib/crypto';
import { GrantKind, InstanceStatus, type InstanceKey, type TokenStore } from '../../../lib/store';
import { fakeToken, newInstance, STORE_KINDS, useStoreFixture } from '../../support/token-store';

const MINUTE = 60_000;

/** Two rings over the same keys: `old` encrypts under k-old, `next` under k-new and still reads k-old. */
function rings(): { old: TokenCipher; next: TokenCipher } {
  const oldKey = generateKey();
  const newKey = generateKey();
  recordIssued(IssuedKind.TokenKey, oldKey);
  recordIssued(IssuedKind.TokenKey, newKey);
  return {
    old: createTokenCipher({ currentKeyId: 'k-old', keys: { 'k-old': oldKey } }),
    next: createTokenCipher({ currentKeyId: 'k-new', keys: { 'k-old': oldKey, 'k-new': newKey } }),
  };
}

describe.each(STORE_KINDS)('%s token store: key re-wrap and import (operator writes)', (kind) => {
  const f = useStoreFixture('rewrap', kind);
  const ciphers = rings();
  let oldStore: TokenStore;
  let newStore: TokenStore;

  beforeAll(() => {
    oldStore = f.makeStore({ cipherFor: async () => ciphers.old });
    newStore = f.makeStore({ cipherFor: async () => ciphers.next });
  });

  async function installUnderOldKey(key: InstanceKey = newInstance()): Promise<{ key: InstanceKey; refreshToken: string; accessToken: string }> {
    const refreshToken = fakeToken('refresh');
    const accessToken = fakeToken('access');
    await oldStore.storeInstallTokens(key, { refreshToken, accessToken, accessTokenExpiresAt: f.clock.now + 5 * MINUTE, installedAt: f.clock.now, refreshDueAt: f.clock.now + 60 * MINUTE });
    return { key, refreshToken, accessToken };
  }

  describe('rewrapTokens', () => {
    it('re-encrypts both envelopes under the current key: same tokens, same version, lease untouched', async () => {
      const { key, refreshToken, accessToken } = await installUnderOldKey();
      const held = await newStore.acquireLease(key, { owner: 'holder' });
      if (!held.acquired) throw new Error('arrange: no lease');
      const before = await f.rawItem(key);

      expect(await newStore.rewrapTokens(key, { currentKeyId: 'k-new' })).toBe('rewrapped');

      const after = await f.rawItem(key);
      expect(envelopeKeyId(after?.refreshToken as string)).toBe('k-new');
      expect(envelopeKeyId(after?.accessToken as string)).toBe('k-new');
      expect(after).toMatchObject({ version: before?.version, leaseOwner: 'holder', leaseExpiresAt: before?.leaseExpiresAt, updatedAt: before?.updatedAt });
      expect(await newStore.getInstance(key)).toMatchObject({ refreshToken, accessToken });
      // The holder read the record before the re-wrap and still writes: the version did not move.
      await expect(
        newStore.storeLeasedTokens(key, { owner: 'holder', expectedVersion: held.record.version, accessToken: fakeToken('access'), accessTokenExpiresAt: f.clock.now + MINUTE, refreshDueAt: f.clock.now + MINUTE }),
      ).resolves.toMatchObject({ version: held.record.version + 1 });
      expect(await newStore.rewrapTokens(key, { currentKeyId: 'k-new' })).toBe('current');
    });

    it('is refused when a token write lands between its read and its write, and never puts the older token back', async () => {
      const { key } = await installUnderOldKey();
      const newer = fakeToken('access');
      let raced = false;
      // The store asks for the cipher between its read and its write: a refresh lands right then.
      const racing = f.makeStore({
        cipherFor: async () => {
          if (!raced) {
            raced = true;
            const held = await oldStore.acquireLease(key, { owner: 'refresher' });
            if (!held.acquired) throw new Error('arrange: no lease');
            await oldStore.storeLeasedTokens(key, { owner: 'refresher', expectedVersion: held.record.version, accessToken: newer, accessTokenExpiresAt: f.clock.now + MINUTE, refreshDueAt: f.clock.now + MINUTE });
          }
          return ciphers.next;
        },
      });

      expect(await racing.rewrapTokens(key, { currentKeyId: 'k-new' })).toBe('changed');
      expect((await newStore.getInstance(key))?.accessToken).toBe(newer);

      // Read again, it re-wraps the newer token.
      expect(await racing.rewrapTokens(key, { currentKeyId: 'k-new' })).toBe('rewrapped');
      expect((await newStore.getInstance(key))?.accessToken).toBe(newer);
      expect(envelopeKeyId((await f.rawItem(key))?.accessToken as string)).toBe('k-new');
    });

    it('with fromKeyId, leaves envelopes under other old keys alone', async () => {
      const { key } = await installUnderOldKey();

      expect(await newStore.rewrapTokens(key, { currentKeyId: 'k-new', fromKeyId: 'k-older' })).toBe('current');
      expect(envelopeKeyId((await f.rawItem(key))?.refreshToken as string)).toBe('k-old');
      expect(await newStore.rewrapTokens(key, { currentKeyId: 'k-new', fromKeyId: 'k-old' })).toBe('rewrapped');
    });

    it('says absent for an instance it holds nothing for, and current for a tombstone', async () => {
      const { key } = await installUnderOldKey();
      await newStore.recordAppRemoved(key, { eventAt: f.clock.now + 1000 });

      expect(await newStore.rewrapTokens(newInstance(), { currentKeyId: 'k-new' })).toBe('absent');
      expect(await newStore.rewrapTokens(key, { currentKeyId: 'k-new' })).toBe('current');
    });
  });

  describe('scanKeyIds', () => {
    it('reports each item’s key id per field, in pages that resume from the cursor, of one app', async () => {
      const appId = randomUUID();
      await installUnderOldKey(newInstance(appId));
      await installUnderOldKey(newInstance(appId));
      const third = await installUnderOldKey(newInstance(appId));
      await newStore.rewrapTokens(third.key, { currentKeyId: 'k-new' });

      // A scan's limit counts items read before the app filter, so a page may hold fewer of the app's.
      const items = [];
      let pages = 0;
      let cursor: string | undefined;
      do {
        const page = await newStore.scanKeyIds({ appId, limit: 2, ...(cursor === undefined ? {} : { cursor }) });
        items.push(...page.items);
        cursor = page.cursor;
        pages += 1;
      } while (cursor !== undefined);
      expect(pages).toBeGreaterThan(1);

      expect(items).toHaveLength(3);
      expect(items.every((item) => item.appId === appId)).toBe(true);
      expect(items.filter((item) => item.refreshTokenKeyId === 'k-old')).toHaveLength(2);
      expect(items.filter((item) => item.accessTokenKeyId === 'k-new')).toHaveLength(1);
      expect(JSON.stringify(items)).not.toContain('.');
    });

    it('refuses a forged cursor', async () => {
      await expect(newStore.scanKeyIds({ limit: 1, cursor: 'bm9wZQ' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    });
  });

  describe('importTokens', () => {
    const tokens = (importId: string) => ({
      importId,
      grantKind: GrantKind.Legacy,
      refreshToken: fakeToken('refresh'),
      accessToken: fakeToken('access'),
      accessTokenExpiresAt: f.clock.now + 5 * MINUTE,
      refreshDueAt: f.clock.now + 60 * MINUTE,
    });

    it('creates an absent instance, encrypted, and skips it the second time (superseded)', async () => {
      const key = newInstance();
      const first = tokens('run-1');

      expect(await newStore.importTokens(key, first)).toEqual({ outcome: 'imported' });
      expect(await newStore.importTokens(key, tokens('run-2'))).toEqual({ outcome: 'skipped', reason: 'superseded' });

      expect(await newStore.getInstance(key)).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.Legacy, refreshToken: first.refreshToken, accessToken: first.accessToken, version: 1 });
      const raw = await f.rawItem(key);
      expect(JSON.stringify(raw)).not.toContain(first.refreshToken);
      expect(raw?.dueAt).toBe(first.refreshDueAt);
    });

    it('fills in a bare record (a mint’s or an AppInstalled’s), bumping its version', async () => {
      const key = newInstance();
      await newStore.recordAppInstalled(key, { eventAt: f.clock.now });
      const bare = await f.rawItem(key);

      expect(await newStore.importTokens(key, tokens('run-1'))).toEqual({ outcome: 'imported' });
      expect(await f.rawItem(key)).toMatchObject({ version: (bare?.version ?? 0) + 1, lastEventAt: f.clock.now, grantKind: GrantKind.Legacy });
    });

    it('never overwrites a record holding tokens, nor a tombstone, nor a bare record under a live lease', async () => {
      const { key: installed, refreshToken } = await installUnderOldKey();
      const removed = newInstance();
      await newStore.recordAppRemoved(removed, { eventAt: f.clock.now });
      const leased = newInstance();
      const lease = await newStore.acquireLease(leased, { owner: 'minter', createIfMissing: true });
      if (!lease.acquired) throw new Error('arrange: no lease');

      expect(await newStore.importTokens(installed, tokens('run-1'))).toEqual({ outcome: 'skipped', reason: 'superseded' });
      expect(await newStore.importTokens(removed, tokens('run-1'))).toEqual({ outcome: 'skipped', reason: 'uninstalled' });
      expect(await newStore.importTokens(leased, tokens('run-1'))).toEqual({ outcome: 'skipped', reason: 'held' });

      expect((await newStore.getInstance(installed))?.refreshToken).toBe(refreshToken);
      expect((await f.rawItem(removed))?.refreshToken).toBeUndefined();
      expect((await f.rawItem(leased))?.accessToken).toBeUndefined();
    });

    it('stores a client-credentials instance without a refresh token', async () => {
      const key = newInstance();
      const { refreshToken: _unused, ...cc } = { ...tokens('run-1'), grantKind: GrantKind.ClientCredentials };

      expect(await newStore.importTokens(key, cc)).toEqual({ outcome: 'imported' });
      expect(await f.rawItem(key)).toMatchObject({ grantKind: GrantKind.ClientCredentials });
      expect((await f.rawItem(key))?.refreshToken).toBeUndefined();
    });
  });
});
