import { createLru } from '../../packages/client/src/lru';

/**
 * The hashes (./token-hash) of tokens callers said Wix refused, per container, each kept until
 * the token would have expired anyway: mint never answers one of them again from this container,
 * whoever asks. Other containers stop serving it once the replacement is stored (their warm path
 * sees the record's version move; see mint.ts).
 *
 * Bounded to `capacity` by the repository's one LRU: the oldest rejection goes first.
 */
export interface RejectedTokens {
  add(hash: string, until: number): void;
  has(hash: string, now: number): boolean;
  /** True while nothing is remembered: callers skip hashing candidates then. */
  readonly empty: boolean;
}

/** The longest a Wix access token lives (client credentials: 4 hours); unknown tokens are remembered this long. */
export const LONGEST_TOKEN_LIFETIME_MS = 4 * 60 * 60_000;

export function createRejectedTokens(capacity = 1000): RejectedTokens {
  const until = createLru<string, number>(capacity);
  return {
    add(hash, expiresAt) {
      until.set(hash, expiresAt);
    },
    has(hash, now) {
      const expiresAt = until.peek(hash);
      if (expiresAt === undefined) return false;
      if (expiresAt > now) return true;
      until.delete(hash);
      return false;
    },
    get empty() {
      return until.size === 0;
    },
  };
}
