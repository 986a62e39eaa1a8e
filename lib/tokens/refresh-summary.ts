import type { InstanceKey } from '../store';

/** Why a refresh failed; every failure falls in exactly one class. */
export const FailureClass = {
  /** Wix: network, timeout, 429, 5xx, an unusable answer. Backed off, due again later. */
  Transient: 'transient',
  /** Wix refused the refresh token and client credentials for the instance: needs_reauth, out of the index. */
  GrantInvalid: 'grant_invalid',
  /** Wix refused the app's credentials (every secret version): an app-level problem; the instance is untouched. */
  CredentialsRejected: 'credentials_rejected',
  /** Wix refused the request itself: a bug on our side, app-level too; the instance is untouched. */
  BadRequest: 'bad_request',
  /** The app's secrets could not be read (Secrets Manager, a malformed secret, an app not served). */
  Secrets: 'secrets',
  /** DynamoDB throttled or failed. */
  Store: 'store',
  /** The record moved on under the lease (a reinstall, an uninstall, a lease that ran out). */
  Conflict: 'conflict',
  /** A stored token could not be decrypted (its key left the key ring). */
  Decryption: 'decryption',
  /**
   * Wix rotated the refresh token and the new one could not be stored with everything the
   * invocation had left: the instance's only working refresh token is gone (metric
   * FailedRotatedTokenLost, alarm refresh-rotated-token-lost). The one failure an operator must see.
   */
  RotatedTokenLost: 'rotated_token_lost',
} as const;
export type FailureClass = (typeof FailureClass)[keyof typeof FailureClass];

/** Why an instance was looked at but not refreshed, without that being a failure. */
export const SkipReason = {
  /** The record is no longer due (the due index lags the table, or another sweep got there first). */
  NotDue: 'not_due',
  /** Another sweep or a mint holds the instance's lease. */
  Leased: 'leased',
  /** Not used within its hot window: taken out of the due index, minted on demand. */
  Dormant: 'dormant',
  /** The app was removed from the instance. */
  Uninstalled: 'uninstalled',
  /** No record for the instance. */
  NotFound: 'not_found',
  /** This run already met an app-level failure for the instance's app: no Wix call was made. */
  AppUnavailable: 'app_unavailable',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** What happened to one instance. */
export type RefreshOutcome =
  | {
      status: 'refreshed';
      grant: 'refresh_token' | 'client_credentials';
      /** The legacy refresh token was refused and client credentials worked: now a client-credentials instance. */
      fellBack: boolean;
      /** Wix handed back a new refresh token, and it is stored. */
      rotated: boolean;
      /** The next due time written, or null (out of the due index). */
      refreshDueAt: number | null;
    }
  | {
      status: 'failed';
      failure: FailureClass;
      /** A stable code (a Wix or service error code); no secret. */
      code: string;
      /** The instance was marked needs_reauth. */
      needsReauth: boolean;
    }
  | { status: 'skipped'; reason: SkipReason }
  /**
   * Not started (released unstarted); still due. `outOfTime`: the invocation's time ran out, so
   * nothing after it can start either; otherwise the lease came back with too little of it left
   * for a Wix call (its write was answered slowly), which says nothing about the next instance.
   */
  | { status: 'left'; outOfTime: boolean };

/** The counts a refresh run reports; the same shape for a sweep and for one instance. */
export interface RefreshSummary {
  mode: 'sweep' | 'instance';
  /** Due items read from the index (a sweep), or 1. Equals refreshed + failed + skipped + leftForNextRun. */
  examined: number;
  refreshed: number;
  /** Of `refreshed`, legacy instances that fell back to client credentials. */
  fellBack: number;
  /** Of `refreshed`, legacy instances whose new refresh token was stored. */
  rotated: number;
  failed: Record<FailureClass, number>;
  /** Instances marked needs_reauth by this run (counted under `failed` too). */
  needsReauth: number;
  skipped: Record<SkipReason, number>;
  /** Read from the index but not started before the time budget ran out: still due. */
  leftForNextRun: number;
  /** True when every due item was read from the index and dealt with. */
  complete: boolean;
  durationMs: number;
  /** The instance, for a direct invoke. */
  instance?: InstanceKey & { outcome: RefreshOutcome['status']; detail?: string };
}

/** A summary with every count at zero. */
export function emptySummary(mode: RefreshSummary['mode']): RefreshSummary {
  return {
    mode,
    examined: 0,
    refreshed: 0,
    fellBack: 0,
    rotated: 0,
    failed: zeroes(FailureClass),
    needsReauth: 0,
    skipped: zeroes(SkipReason),
    leftForNextRun: 0,
    complete: false,
    durationMs: 0,
  };
}

/** Counts one outcome (`examined` is counted by whoever read the item). */
export function countOutcome(summary: RefreshSummary, outcome: RefreshOutcome): void {
  switch (outcome.status) {
    case 'refreshed':
      summary.refreshed += 1;
      if (outcome.fellBack) summary.fellBack += 1;
      if (outcome.rotated) summary.rotated += 1;
      return;
    case 'failed':
      summary.failed[outcome.failure] += 1;
      if (outcome.needsReauth) summary.needsReauth += 1;
      return;
    case 'skipped':
      summary.skipped[outcome.reason] += 1;
      return;
    case 'left':
      summary.leftForNextRun += 1;
      return;
  }
}

/** The outcome's class or reason, for logs and the direct invoke's answer. */
export function outcomeDetail(outcome: RefreshOutcome): string | undefined {
  switch (outcome.status) {
    case 'refreshed':
      return outcome.fellBack ? 'fell_back' : outcome.grant;
    case 'failed':
      return outcome.failure;
    case 'skipped':
      return outcome.reason;
    case 'left':
      return undefined;
  }
}

/** The metrics a summary publishes, as CloudWatch metric names (PascalCase) and counts. */
export function summaryMetrics(summary: RefreshSummary): Record<string, number> {
  const metrics: Record<string, number> = {
    Examined: summary.examined,
    Refreshed: summary.refreshed,
    FellBack: summary.fellBack,
    RefreshTokenRotated: summary.rotated,
    NeedsReauth: summary.needsReauth,
    Failed: total(summary.failed),
    Skipped: total(summary.skipped),
    LeftForNextRun: summary.leftForNextRun,
  };
  for (const [name, count] of Object.entries(summary.failed)) metrics[`Failed${pascal(name)}`] = count;
  for (const [name, count] of Object.entries(summary.skipped)) metrics[`Skipped${pascal(name)}`] = count;
  return metrics;
}

function zeroes<const T extends Record<string, string>>(names: T): Record<T[keyof T], number> {
  return Object.fromEntries(Object.values(names).map((name) => [name, 0])) as Record<T[keyof T], number>;
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

function pascal(snake: string): string {
  return snake.replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());
}
