import { createLru } from '../../../../packages/client/src/lru';
import { createTokenCache, type CachedToken } from '../../../../lib/tokens/token-cache';

/** A full map of two, filled with a then b: a is the least recently used. */
function fullOfAB() {
  const lru = createLru<string, number>(2);
  lru.set('a', 1);
  lru.set('b', 2);
  return lru;
}

describe('createLru', () => {
  it('returns what was set under the key, and nothing for an unknown key', () => {
    const lru = createLru<string, number>(2);

    lru.set('a', 1);

    expect(lru.get('a')).toBe(1);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.has('a')).toBe(true);
    expect(lru.has('b')).toBe(false);
  });

  it('replaces the value of a key set twice without growing', () => {
    const lru = createLru<string, number>(2);
    lru.set('a', 1);

    lru.set('a', 2);

    expect(lru.get('a')).toBe(2);
    expect(lru.size).toBe(1);
  });

  it.each([
    ['nothing', () => undefined, 'a'],
    ['a read', (lru: ReturnType<typeof fullOfAB>) => lru.get('a'), 'b'],
    ['a replacement', (lru: ReturnType<typeof fullOfAB>) => lru.set('a', 10), 'b'],
    ['a peek (not use)', (lru: ReturnType<typeof fullOfAB>) => lru.peek('a'), 'a'],
    ['a has (not use)', (lru: ReturnType<typeof fullOfAB>) => lru.has('a'), 'a'],
  ])('evicts the least recently used when full, after %s', (_name, touch, evicted) => {
    const lru = fullOfAB();
    touch(lru);

    lru.set('c', 3);

    expect(lru.size).toBe(2);
    expect(lru.has(evicted)).toBe(false);
    expect(lru.has('c')).toBe(true);
  });

  it('lists its entries least recently used first', () => {
    const lru = fullOfAB();
    lru.get('a');

    expect([...lru.entries()]).toEqual([
      ['b', 2],
      ['a', 1],
    ]);
  });

  it('forgets a deleted entry, and ignores the deletion of an unknown one', () => {
    const lru = fullOfAB();

    lru.delete('a');
    lru.delete('never-set');

    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(1);
  });

  it('stays bounded under many distinct keys', () => {
    const lru = createLru<string, number>(100);

    for (let index = 0; index < 1_000; index++) lru.set(`k${index}`, index);

    expect(lru.size).toBe(100);
    expect(lru.has('k999')).toBe(true);
    expect(lru.has('k899')).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses a capacity of %p', (capacity) => {
    expect(() => createLru(capacity)).toThrow(RangeError);
  });
});

describe('createTokenCache (mint\'s LRU of tokens)', () => {
  it('hands back expired entries unchanged, with the caller\'s extra fields: judging expiry is the caller\'s job', () => {
    const cache = createTokenCache<CachedToken & { touchedAt: number }>(1);

    cache.set('app#a', { accessToken: 'OauthNG.JWS.a', expiresAt: 0, touchedAt: 42 });

    expect(cache.get('app#a')).toEqual({ accessToken: 'OauthNG.JWS.a', expiresAt: 0, touchedAt: 42 });
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => createTokenCache(0)).toThrow(RangeError);
  });
});
