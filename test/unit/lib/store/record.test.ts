import { dueShardOf, LAST_USED_RESOLUTION_MS, shouldTouchLastUsed, withoutTokens, type InstanceRecord } from '../../../../lib/store';

describe('shouldTouchLastUsed', () => {
  it('asks for a write when lastUsedAt is absent or a minute old, not before', () => {
    const now = 1_000_000;

    expect(shouldTouchLastUsed({}, now)).toBe(true);
    expect(shouldTouchLastUsed({ lastUsedAt: now - LAST_USED_RESOLUTION_MS }, now)).toBe(true);
    expect(shouldTouchLastUsed({ lastUsedAt: now - LAST_USED_RESOLUTION_MS + 1 }, now)).toBe(false);
  });
});

describe('withoutTokens', () => {
  it('drops both tokens and keeps everything else', () => {
    const record: InstanceRecord = {
      appId: 'a',
      instanceId: 'i',
      status: 'active',
      grantKind: 'legacy',
      refreshToken: 'secret-refresh',
      accessToken: 'secret-access',
      accessTokenExpiresAt: 5,
      version: 3,
      createdAt: 1,
      updatedAt: 2,
    };

    const safe = withoutTokens(record);

    expect(JSON.stringify(safe)).not.toMatch(/secret/);
    expect(safe).toEqual({ appId: 'a', instanceId: 'i', status: 'active', grantKind: 'legacy', accessTokenExpiresAt: 5, version: 3, createdAt: 1, updatedAt: 2 });
  });
});

describe('dueShardOf', () => {
  it('is stable for an instance and within 0..shards-1', () => {
    const key = { appId: 'app', instanceId: 'instance' };
    const shards = Array.from({ length: 200 }, (_, i) => Number(dueShardOf({ appId: 'app', instanceId: `i-${i}` }, 16)));

    expect(dueShardOf(key, 16)).toBe(dueShardOf(key, 16));
    expect(Math.min(...shards)).toBe(0);
    expect(Math.max(...shards)).toBe(15);
  });
});
