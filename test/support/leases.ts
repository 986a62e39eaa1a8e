import { randomUUID } from 'node:crypto';

import { IssuedKind, recordIssued } from '../../infra/local/issued-values';
import type { AcquireLeaseOptions, FailureOutcome, InstanceKey, InstanceRecord, TokenStore } from '../../lib/store';

/** Arranging a test through a store's leases and fake tokens: what must hold before the step a test checks. */

/** Token-looking values, unique per call, so a scan can look for them. */
export function fakeToken(kind: 'access' | 'refresh'): string {
  const token = `OauthNG.JWS.${kind}-${randomUUID()}`;
  recordIssued(kind === 'access' ? IssuedKind.AccessToken : IssuedKind.RefreshToken, token);
  return token;
}

/** Takes a lease or throws: for arranging a test, never for what it checks. */
export async function takeLease(store: TokenStore, key: InstanceKey, options: AcquireLeaseOptions): Promise<InstanceRecord> {
  const result = await store.acquireLease(key, options);
  if (!result.acquired) throw new Error(`arrange: lease not acquired (${result.reason})`);
  return result.record;
}

/** A failure as a test scripts it; the owner and version come from the lease taken for it. */
export type ArrangedFailure = Omit<FailureOutcome, 'owner' | 'expectedVersion'>;

/** Records a failure as the holder of a lease taken for it by `owner` (arranging a backoff or a needs_reauth). */
export async function failUnderLease(store: TokenStore, key: InstanceKey, owner: string, failure: ArrangedFailure): Promise<InstanceRecord> {
  const held = await takeLease(store, key, { owner });
  return store.recordFailure(key, { ...failure, owner, expectedVersion: held.version });
}

/** What a refused refresh grant records at `at`: needs_reauth, out of the due index. */
export function grantRefused(at: number): ArrangedFailure {
  return { error: { kind: 'grant_invalid', code: 'WIX_INVALID_GRANT' }, at, retryAt: null, needsReauth: true };
}

/** What an unreachable Wix records at `at`: a transient error and a retry at `retryAt`. */
export function wixUnavailable(at: number, retryAt: number): ArrangedFailure {
  return { error: { kind: 'transient', code: 'WIX_UNAVAILABLE' }, at, retryAt };
}

/** What `storeUnderLease` writes: an access token (a fresh fake one when absent) and a due time, or one read off the held record. */
export interface ArrangedTokenWrite {
  accessToken?: string;
  accessTokenExpiresAt: number;
  refreshDueAt: number | null | ((held: InstanceRecord) => number | null);
}

/** Writes an access token as the holder of a lease taken for it by `owner` (a seed, or someone else's write, arranged). */
export async function storeUnderLease(store: TokenStore, key: InstanceKey, owner: string, write: ArrangedTokenWrite): Promise<InstanceRecord> {
  const held = await takeLease(store, key, { owner });
  return store.storeLeasedTokens(key, {
    owner,
    expectedVersion: held.version,
    accessToken: write.accessToken ?? fakeToken('access'),
    accessTokenExpiresAt: write.accessTokenExpiresAt,
    refreshDueAt: typeof write.refreshDueAt === 'function' ? write.refreshDueAt(held) : write.refreshDueAt,
  });
}
