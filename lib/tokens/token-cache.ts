/** An access token held in a container's memory. */
export interface CachedToken {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

/**
 * A bounded least-recently-used map of access tokens, per container. It never judges expiry:
 * the caller decides whether what `get` returns is still good enough for its request.
 *
 * Written here rather than taken from lru-cache: a Map kept in insertion order is all an LRU
 * needs, and it keeps the mint bundle and its cold start small.
 *
 * `T` lets a caller keep its own bookkeeping next to the token (e.g. when it last recorded use)
 * without casting what `get` returns.
 */
export interface TokenCache<T extends CachedToken = CachedToken> {
  /** The entry, which becomes the most recently used. */
  get(key: string): T | undefined;
  /** Adds or replaces an entry, evicting the least recently used one when full. */
  set(key: string, token: T): void;
  delete(key: string): void;
  readonly size: number;
}

/** @throws {RangeError} when `capacity` is not a positive integer (NaN would make the cache unbounded). */
export function createTokenCache<T extends CachedToken = CachedToken>(capacity = 5000): TokenCache<T> {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`token cache capacity must be a positive integer, got ${String(capacity)}`);
  }
  const entries = new Map<string, T>();
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
      if (entries.size > capacity) {
        // Insertion order is recency order: the first key is the least recently used.
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
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
