/**
 * When tokens count as fresh, and when the sweep should look at an instance again.
 * One place, so mint, refresh and install agree.
 */

/** A token this close to expiry is never handed out: clocks drift and the caller needs time to use it. */
export const EXPIRY_SKEW_MS = 30_000;

/** Client-credentials tokens (4 h) are renewed by the sweep this long before they expire. */
export const CLIENT_CREDENTIALS_LEAD_MS = 15 * 60_000;

/** After a refusal, mint answers WixRejected from the record for this long before asking Wix again. */
export const REJECTION_COOLDOWN_MS = 5 * 60_000;

/** True when a token expiring at `expiresAt` stays valid for `minValidityMs` more after `now`. */
export function isUsable(expiresAt: number | undefined, now: number, minValidityMs: number): boolean {
  return expiresAt !== undefined && expiresAt - EXPIRY_SKEW_MS - minValidityMs > now;
}

/** When the sweep should renew a freshly minted client-credentials token. */
export function clientCredentialsDueAt(expiresAt: number): number {
  return expiresAt - CLIENT_CREDENTIALS_LEAD_MS;
}

/** Backoff after a transient failure: full jitter under an exponential cap (1 min .. 1 h). */
export function retryDelayMs(failuresInARow: number, random: () => number): number {
  const cap = Math.min(60 * 60_000, 60_000 * 2 ** Math.max(0, failuresInARow - 1));
  return Math.floor(cap / 2 + (random() * cap) / 2);
}
