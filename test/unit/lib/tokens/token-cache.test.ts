import { createTokenCache, type CachedToken } from '../../../../lib/tokens/token-cache';

function token(name: string, expiresAt = 1_000): CachedToken {
  return { accessToken: `OauthNG.JWS.${name}`, expiresAt };
}

describe('createTokenCache', () => {
  it('returns what was set under the key, and nothing for an unknown key', () => {
    const cache = createTokenCache(2);

    cache.set('app#a', token('a'));

    expect(cache.get('app#a')).toEqual(token('a'));
    expect(cache.get('app#b')).toBeUndefined();
  });

  it('replaces the entry of a key set twice without growing', () => {
    const cache = createTokenCache(2);
    cache.set('app#a', token('old'));

    cache.set('app#a', token('new', 2_000));

    expect(cache.get('app#a')).toEqual(token('new', 2_000));
    expect(cache.size).toBe(1);
  });

  it('evicts the least recently set entry when full', () => {
    const cache = createTokenCache(2);
    cache.set('app#a', token('a'));
    cache.set('app#b', token('b'));

    cache.set('app#c', token('c'));

    expect(cache.size).toBe(2);
    expect(cache.get('app#a')).toBeUndefined();
    expect(cache.get('app#b')).toBeDefined();
    expect(cache.get('app#c')).toBeDefined();
  });

  it('counts a read as use: a recently read entry outlives one set after it', () => {
    const cache = createTokenCache(2);
    cache.set('app#a', token('a'));
    cache.set('app#b', token('b'));
    cache.get('app#a');

    cache.set('app#c', token('c'));

    expect(cache.get('app#a')).toBeDefined();
    expect(cache.get('app#b')).toBeUndefined();
  });

  it('counts a replacement as use', () => {
    const cache = createTokenCache(2);
    cache.set('app#a', token('a'));
    cache.set('app#b', token('b'));
    cache.set('app#a', token('a2'));

    cache.set('app#c', token('c'));

    expect(cache.get('app#a')?.accessToken).toBe('OauthNG.JWS.a2');
    expect(cache.get('app#b')).toBeUndefined();
  });

  it('forgets a deleted entry', () => {
    const cache = createTokenCache(2);
    cache.set('app#a', token('a'));

    cache.delete('app#a');
    cache.delete('app#never-set');

    expect(cache.get('app#a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('hands back expired entries unchanged: judging expiry is the caller\'s job', () => {
    const cache = createTokenCache(2);

    cache.set('app#a', token('a', 0));

    expect(cache.get('app#a')).toEqual(token('a', 0));
  });

  it('keeps the caller\'s extra fields on an entry', () => {
    const cache = createTokenCache<CachedToken & { touchedAt: number }>(1);

    cache.set('app#a', { ...token('a'), touchedAt: 42 });

    expect(cache.get('app#a')?.touchedAt).toBe(42);
  });

  it('stays bounded under many distinct keys', () => {
    const cache = createTokenCache(100);

    for (let index = 0; index < 1_000; index++) cache.set(`app#${index}`, token(String(index)));

    expect(cache.size).toBe(100);
    expect(cache.get('app#999')).toBeDefined();
    expect(cache.get('app#899')).toBeUndefined();
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses a capacity of %p', (capacity) => {
    expect(() => createTokenCache(capacity)).toThrow(RangeError);
  });
});
