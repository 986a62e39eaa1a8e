/** An access token held in a container's memory. */
export interface CachedToken {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

/**
 * A bounded least-recently-used map of access tokens, per container.
 *
 * Written here rather than taken from lru-cache: a Map kept in insertion order is all an LRU
 * needs, and it keeps the mint bundle and its cold start small.
 */
export interface TokenCache {
  get(key: string): CachedToken | undefined;
  set(key: string, token: CachedToken): void;
  delete(key: string): void;
  readonly size: number;
}

export function createTokenCache(capacity = 5000): TokenCache {
  const entries = new Map<string, CachedToken>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry !== undefined) {
        entries.delete(key);
        entries.set(key, entry);
      }
      return entry;
    },
    set(key, token) {
      entries.delete(key);
      entries.set(key, token);
      while (entries.size > capacity) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
    delete(key) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
