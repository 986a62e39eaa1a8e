/**
 * The hashes (./token-hash) of tokens callers said Wix refused, per container, each kept until
 * the token would have expired anyway: mint never answers one of them again from this container,
 * whoever asks. Other containers stop serving it once the replacement is stored (their warm path
 * sees the record's version move; see get-access-token.ts).
 *
 * A Map in insertion order bounded to `capacity`, as ./token-cache, for the same reason: no
 * library weight on mint's cold path.
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
  const until = new Map<string, number>();
  return {
    add(hash, expiresAt) {
      until.delete(hash);
      until.set(hash, expiresAt);
      if (until.size > capacity) {
        const oldest = until.keys().next();
        if (!oldest.done) until.delete(oldest.value);
      }
    },
    has(hash, now) {
      const expiresAt = until.get(hash);
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
