import { createLru, type Lru } from '../../packages/client/src/lru';

/** An access token held in a container's memory. */
export interface CachedToken {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

/**
 * Mint's access tokens per container, keyed by `appId#instanceId`, least recently used evicted.
 * It never judges expiry: the caller decides whether what `get` returns is still good enough for
 * its request. `T` lets a caller keep its own bookkeeping next to the token (e.g. when it last
 * recorded use) without casting what `get` returns.
 */
export type TokenCache<T extends CachedToken = CachedToken> = Lru<string, T>;

/** @throws {RangeError} when `capacity` is not a positive integer. */
export function createTokenCache<T extends CachedToken = CachedToken>(capacity = 5000): TokenCache<T> {
  return createLru<string, T>(capacity);
}
