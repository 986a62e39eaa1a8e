/**
 * When tokens count as fresh, and when the sweep should look at an instance again.
 * One place, so mint, refresh and install agree.
 *
 * Due-time rules, per grant kind (all times epoch ms):
 *
 * ```
 * client_credentials   token lives 4 h; renewed by the sweep 15 min + spread(0..10 min) before it
 *                      expires, while the instance is hot (any activity in the last 24 h)
 * legacy               access token lives 5 min: not kept warm (mint serves these instances
 *                      with client credentials); the sweep runs a daily health pass instead, a
 *                      refresh_token grant 24 h - spread(0..1 h) after the last one, while the
 *                      instance is hot (any activity in the last 30 days)
 * dormant (not hot)    out of the due index; the next mint puts it back
 * any new due time     at least MIN_RESCHEDULE_MS ahead (a token that lives shorter than the lead,
 *                      say an answer without expires_in, must not come out already due)
 * transient failure    retry after retryDelayMs (exponential, jittered)
 * refused (grant)      out of the due index until a reinstall
 * ```
 */
import { createHash } from 'node:crypto';

import { GrantKind, type InstanceKey, type InstanceRecord } from '../store';
import { WixErrorKind } from '../wix';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A token this close to expiry is never handed out: clocks drift and the caller needs time to use it. */
export const EXPIRY_SKEW_MS = 30_000;

/** Client-credentials tokens (4 h) are renewed by the sweep at least this long before they expire. */
export const CLIENT_CREDENTIALS_LEAD_MS = 15 * MINUTE;

/**
 * Client-credentials renewals are moved earlier by up to this much, per instance, so a fleet
 * installed at one moment is renewed over two sweep periods instead of in one burst.
 */
export const CLIENT_CREDENTIALS_SPREAD_MS = 10 * MINUTE;

/** A client-credentials instance with no activity for this long is dormant: minted on demand only. */
export const CLIENT_CREDENTIALS_HOT_WINDOW_MS = DAY;

/** How often the sweep proves a legacy refresh token still works (a refresh_token grant). */
export const LEGACY_HEALTH_INTERVAL_MS = DAY;

/** Legacy health passes are moved earlier by up to this much, per instance. */
export const LEGACY_HEALTH_SPREAD_MS = HOUR;

/**
 * A legacy instance with no activity for this long is no longer health-checked. Longer than the
 * client-credentials window: the refresh token is the instance's only long-lived secret, and a
 * dead install is worth finding before its user comes back.
 */
export const LEGACY_HOT_WINDOW_MS = 30 * DAY;

/**
 * A due time written after a grant is never sooner than this: later than the read time of the
 * sweep that wrote it, so no sweep lists again an instance it has just refreshed.
 */
export const MIN_RESCHEDULE_MS = MINUTE;

/** After a refusal, mint answers WixRejected from the record for this long before asking Wix again. */
export const REJECTION_COOLDOWN_MS = 5 * MINUTE;

/**
 * A lease holder's Wix call ends this long before the lease (and the invocation's deadline) does,
 * so the write that must follow it has this long for its attempts (two SDK attempts of at most
 * 1.5 s each are cut off at the lease's end by lib/tokens/retry).
 */
export const LEASE_WRITE_MARGIN_MS = 1500;

/**
 * When a lease holder's Wix call must end: `writeMarginMs` before the earlier of the caller's
 * `deadline` and the lease's expiry, so no Wix call outlives its lease and the write after it
 * keeps its time.
 */
export function leasedCallDeadline(deadline: number, leaseExpiresAt: number, writeMarginMs = LEASE_WRITE_MARGIN_MS): number {
  return Math.min(deadline, leaseExpiresAt) - writeMarginMs;
}

/** True when a token expiring at `expiresAt` stays valid for `minValidityMs` more after `now`. */
export function isUsable(expiresAt: number | undefined, now: number, minValidityMs: number): boolean {
  return expiresAt !== undefined && expiresAt - EXPIRY_SKEW_MS - minValidityMs > now;
}

/**
 * A fixed offset in [0, windowMs) for one instance, from a hash of its key: the same on every
 * run and in every container, and spread evenly over a fleet.
 */
export function spreadMs(key: InstanceKey, windowMs: number): number {
  const digest = createHash('sha256').update(`${key.appId}#${key.instanceId}`, 'utf8').digest();
  // Bytes 4..7: the due-index shard is taken from bytes 0..3, so the two stay independent.
  return Math.floor((digest.readUInt32BE(4) / 2 ** 32) * windowMs);
}

/**
 * When the sweep should renew a freshly minted client-credentials token. With `key`, the
 * renewal moves earlier by the instance's spread.
 */
export function clientCredentialsDueAt(expiresAt: number, key?: InstanceKey): number {
  const spread = key === undefined ? 0 : spreadMs(key, CLIENT_CREDENTIALS_SPREAD_MS);
  return expiresAt - CLIENT_CREDENTIALS_LEAD_MS - spread;
}

/** When the next legacy health pass is due, after one at `now` (or after an install at `now`). */
export function legacyHealthDueAt(now: number, key: InstanceKey): number {
  return now + LEGACY_HEALTH_INTERVAL_MS - spreadMs(key, LEGACY_HEALTH_SPREAD_MS);
}

/** The newest sign of life of an instance: a use, a lifecycle event, or its creation. */
export function lastActivityAt(record: Pick<InstanceRecord, 'lastUsedAt' | 'lastEventAt' | 'createdAt'>): number {
  return Math.max(record.lastUsedAt ?? 0, record.lastEventAt ?? 0, record.createdAt);
}

/** True when the instance is in the hot set for its grant kind (see the windows above). */
export function isHot(record: Pick<InstanceRecord, 'grantKind' | 'lastUsedAt' | 'lastEventAt' | 'createdAt'>, now: number): boolean {
  const window = record.grantKind === GrantKind.Legacy ? LEGACY_HOT_WINDOW_MS : CLIENT_CREDENTIALS_HOT_WINDOW_MS;
  return now - lastActivityAt(record) < window;
}

/** What a successful grant produced, for {@link nextRefreshDueAt}. */
export interface GrantResult {
  /** The grant that ran. */
  grant: 'refresh_token' | 'client_credentials';
  /** The grant kind the record has after the write. */
  grantKind: GrantKind;
  /** When the new access token expires. */
  expiresAt: number;
}

/**
 * The next sweep time after a successful grant (see the rules at the top of this file), or null
 * to leave the due index. `record` is the record as read under the lease, with `lastUsedAt` set
 * to now when the grant served a caller (a mint).
 */
export function nextRefreshDueAt(
  record: Pick<InstanceRecord, 'appId' | 'instanceId' | 'grantKind' | 'lastUsedAt' | 'lastEventAt' | 'createdAt' | 'refreshDueAt'>,
  result: GrantResult,
  now: number,
): number | null {
  if (!isHot({ ...record, grantKind: result.grantKind }, now)) return null;
  // Legacy: a client-credentials mint keeps the health schedule (a mint is no sweep: an overdue one stays due).
  if (result.grantKind === GrantKind.Legacy && result.grant === 'client_credentials' && record.refreshDueAt !== undefined) {
    return record.refreshDueAt;
  }
  const due = result.grantKind === GrantKind.ClientCredentials ? clientCredentialsDueAt(result.expiresAt, record) : legacyHealthDueAt(now, record);
  return Math.max(due, now + MIN_RESCHEDULE_MS);
}

/** Backoff after a transient failure: "equal jitter", between half the cap and the cap, under an exponential cap (1 min .. 1 h). */
export function retryDelayMs(failuresInARow: number, random: () => number): number {
  const cap = Math.min(60 * 60_000, 60_000 * 2 ** Math.max(0, failuresInARow - 1));
  return Math.floor(cap / 2 + (random() * cap) / 2);
}

/** After an app-level failure, an instance's due time moves back this long, plus up to half again. */
export const APP_FAILURE_BACKOFF_MS = 10 * MINUTE;

/**
 * When an instance is due again after its app failed (credentials or request refused, secret
 * unreadable): later than the next sweeps, jittered so the app's instances come back spread out.
 */
export function appFailureRetryAt(now: number, random: () => number): number {
  return now + APP_FAILURE_BACKOFF_MS + Math.floor(random() * (APP_FAILURE_BACKOFF_MS / 2));
}

/** What to do with an instance after a failed grant: the rule mint and the sweep share. */
export type FailurePlan =
  /** Not about this instance (the app's credentials, or a request Wix never accepts): leave the record alone. */
  | { record: false }
  | { record: true; retryAt: number | null; needsReauth: boolean };

/**
 * Plans the record of a failed grant: transient failures back off (due again after
 * {@link retryDelayMs}), a refusal marks the instance needs_reauth and takes it out of the due
 * index, and app-level failures (credentials_rejected, bad_request) leave the instance's tokens and
 * status untouched (its due time moves back by {@link appFailureRetryAt}).
 *
 * @param failuresInARow this failure included
 */
export function failurePlan(kind: WixErrorKind, failuresInARow: number, now: number, random: () => number): FailurePlan {
  switch (kind) {
    case WixErrorKind.Transient:
      return { record: true, retryAt: now + retryDelayMs(failuresInARow, random), needsReauth: false };
    case WixErrorKind.GrantInvalid:
      return { record: true, retryAt: null, needsReauth: true };
    case WixErrorKind.CredentialsRejected:
    case WixErrorKind.BadRequest:
      return { record: false };
  }
}
