/**
 * A bounded least-recently-used map: the one LRU of this repository. The client package keeps
 * its tokens in one; the service's mint function keeps its token cache, the hashes of rejected
 * tokens and the elevation verdicts in others (lib imports this file, so the package stays
 * standalone and the service has no second copy).
 *
 * Written here rather than taken from lru-cache: a Map kept in insertion order is all an LRU
 * needs (insertion order is recency order once a read re-inserts), and it keeps mint's bundle and
 * cold start small.
 */
export interface Lru<K, V> {
  /** The value, which becomes the most recently used. */
  get(key: K): V | undefined;
  /** The value, leaving recency alone. */
  peek(key: K): V | undefined;
  /** Whether the key is held, leaving recency alone. */
  has(key: K): boolean;
  /** Adds or replaces a value as the most recently used, evicting the least recently used when full. */
  set(key: K, value: V): void;
  delete(key: K): void;
  /** Least recently used first. */
  entries(): IterableIterator<[K, V]>;
  readonly size: number;
}

/** @throws {RangeError} when `capacity` is not a positive integer (NaN would make the map unbounded). */
export function createLru<K, V>(capacity: number): Lru<K, V> {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`LRU capacity must be a positive integer, got ${String(capacity)}`);
  }
  const values = new Map<K, V>();
  return {
    get(key) {
      const value = values.get(key);
      if (value !== undefined) {
        values.delete(key);
        values.set(key, value);
      }
      return value;
    },
    peek: (key) => values.get(key),
    has: (key) => values.has(key),
    set(key, value) {
      values.delete(key);
      values.set(key, value);
      if (values.size > capacity) {
        const oldest = values.keys().next();
        if (!oldest.done) values.delete(oldest.value);
      }
    },
    delete(key) {
      values.delete(key);
    },
    entries: () => values.entries(),
    get size() {
      return values.size;
    },
  };
}
