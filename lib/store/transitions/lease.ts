import { A } from '../item';
import { and, eq, exists, missing, or, type Assignment, type Attribute, type Update } from '../expression';
import { GrantKind, InstanceStatus } from '../types';
import {
  dueAssignments,
  ERROR_ATTRIBUTES,
  holds,
  LEASE_ATTRIBUTES,
  leaseFreeFor,
  notTombstone,
  Refusal,
  stillUnused,
  to,
  usedSinceRead,
  versionedRefusal,
  type DuePlacement,
  type LeaseJudgement,
  type Stamp,
  type Transition,
} from './guards';

/**
 * The lease and the writes made under it (mint and the refresh sweep, lib/tokens): taking and
 * giving up the lease, and the token, failure and reschedule writes of its holder. Their rules are
 * in the table of ../transitions.
 */

export interface AcquireLeaseInput extends LeaseJudgement {
  appId: string;
  instanceId: string;
  owner: string;
  expiresAt: number;
  /** The lease's length, stored with it: a waiter watches it this long before taking it over. */
  lengthMs: number;
  /** Create a bare active client-credentials record when none exists (its AppInstalled never reached us). */
  createIfMissing: boolean;
  /** A lease the caller watched unchanged for a whole lease length on its own clock: take it over. */
  takeOver?: { owner: string; expiresAt: number };
}

/**
 * Takes the lease when it is free, ours already, or its holder is gone: expired by more than the
 * clock skew, or watched out by the caller (`takeOver`).
 */
export function acquireLease(input: AcquireLeaseInput): Transition<'not_found' | 'uninstalled' | 'held'> {
  const usable = and(notTombstone, leaseFreeFor(input.owner, input, input.takeOver));
  const set: Partial<Record<Attribute, Assignment>> = {
    leaseOwner: to(input.owner),
    leaseExpiresAt: to(input.expiresAt),
    leaseMs: to(input.lengthMs),
  };
  if (input.createIfMissing) {
    // The event-time floor (issue 17): lastEventAt starts at the creation time, so no webhook
    // older than the record applies to it (a replayed AppRemoved cannot remove it). It compares
    // our clock with Wix's iat, so the floor is set the clock skew earlier: a removal Wix sent
    // just before (or as) a mint created the record still applies.
    Object.assign(set, {
      lastEventAt: { ifMissing: input.at - input.skewMs },
      appId: { ifMissing: input.appId },
      instanceId: { ifMissing: input.instanceId },
      status: { ifMissing: InstanceStatus.Active },
      grantKind: { ifMissing: GrantKind.ClientCredentials },
      version: { ifMissing: 0 },
      createdAt: { ifMissing: input.at },
      updatedAt: { ifMissing: input.at },
    });
  }
  return {
    name: 'acquireLease',
    condition: input.createIfMissing ? or(missing(A.pk), usable) : and(exists(A.pk), usable),
    update: { set, remove: [] },
    refused: (item) => {
      if (item === undefined) return Refusal.NotFound;
      return item.status === InstanceStatus.Uninstalled ? Refusal.Uninstalled : Refusal.Held;
    },
  };
}

export interface LeasedInput extends Stamp {
  owner: string;
  expectedVersion: number;
}

/** Gives the lease up; refused when it is not ours (any more). */
export function releaseLease(input: { owner: string }): Transition<'lease_lost'> {
  return {
    name: 'releaseLease',
    condition: eq(A.leaseOwner, input.owner),
    update: { set: {}, remove: LEASE_ATTRIBUTES },
    refused: () => Refusal.LeaseLost,
  };
}

export interface TokenWriteInput extends LeasedInput {
  /** Envelopes (already encrypted). */
  accessToken: string;
  accessTokenExpiresAt: number;
  /** Only when Wix handed back a refresh token different from the stored one. */
  refreshToken?: string;
  grantKind?: GrantKind;
  lastUsedAt?: number;
  due: DuePlacement;
  /** With `due` null: the lastUsedAt of the record the holder judged dormant (see {@link stillUnused}). */
  lastUsedAtRead?: number;
}

function tokenUpdate(input: TokenWriteInput, removeLease: boolean): Update {
  const due = dueAssignments(input.due);
  return {
    set: {
      accessToken: to(input.accessToken),
      accessTokenExpiresAt: to(input.accessTokenExpiresAt),
      refreshedAt: to(input.at),
      status: to(InstanceStatus.Active),
      version: to(input.expectedVersion + 1),
      writer: to(input.owner),
      updatedAt: to(input.at),
      ...(input.refreshToken === undefined ? {} : { refreshToken: to(input.refreshToken) }),
      ...(input.grantKind === undefined ? {} : { grantKind: to(input.grantKind) }),
      ...(input.lastUsedAt === undefined ? {} : { lastUsedAt: to(input.lastUsedAt) }),
      ...due.set,
    },
    remove: [...(removeLease ? LEASE_ATTRIBUTES : []), ...ERROR_ATTRIBUTES, ...due.remove],
  };
}

/** A minted or refreshed token, stored by the lease holder, releasing the lease in the same write. */
export function leasedTokenWrite(input: TokenWriteInput): Transition {
  return {
    name: 'leasedTokenWrite',
    condition: and(holds(input.owner, input.expectedVersion, input.at), ...stillUnused(input)),
    update: tokenUpdate(input, true),
    refused: (item) => usedSinceRead(item, input) ?? versionedRefusal(item, input.owner, input.expectedVersion),
  };
}

/**
 * A refresh token Wix just rotated, written even after its writer's lease ran out, provided
 * nobody wrote since (`expectedVersion`, rebased by the caller on what it read). It never takes
 * a live holder's lease away: with another holder it writes the tokens and leaves their lease in
 * place (their own write then fails on the version and they release it); otherwise it removes
 * the lease (ours, or expired).
 */
export function rotatedTokenWrite(input: TokenWriteInput & LeaseJudgement & { liveHolder?: { owner: string; expiresAt: number } }): Transition {
  const holder = input.liveHolder;
  const condition =
    holder === undefined
      ? and(eq(A.version, input.expectedVersion), leaseFreeFor(input.owner, input), ...stillUnused(input))
      : and(eq(A.version, input.expectedVersion), eq(A.leaseOwner, holder.owner), eq(A.leaseExpiresAt, holder.expiresAt), ...stillUnused(input));
  return {
    name: 'rotatedTokenWrite',
    condition,
    update: tokenUpdate(input, holder === undefined),
    refused: (item) => {
      const refusal = usedSinceRead(item, input) ?? versionedRefusal(item, input.owner, input.expectedVersion);
      // Same version, but the lease changed hands since the caller read it: read again.
      return refusal === Refusal.LeaseLost ? Refusal.Version : refusal;
    },
  };
}

export interface FailureInput extends LeasedInput {
  error: { kind: string; code: string };
  /** When it failed (this service's clock, for the status report). */
  failedAt: number;
  /** Backoff until the next sweep attempt, or out of the index. */
  due: DuePlacement;
  needsReauth: boolean;
}

/** A failed Wix call, recorded by the lease holder (lastError, backoff, needs_reauth); releases the lease. */
export function leasedFailure(input: FailureInput): Transition {
  const due = dueAssignments(input.due);
  return {
    name: 'leasedFailure',
    condition: holds(input.owner, input.expectedVersion, input.at),
    update: {
      set: {
        errorKind: to(input.error.kind),
        errorCode: to(input.error.code),
        errorAt: to(input.failedAt),
        errorCount: { add: 1, from: 0 },
        version: to(input.expectedVersion + 1),
        writer: to(input.owner),
        updatedAt: to(input.at),
        ...(input.needsReauth ? { status: to(InstanceStatus.NeedsReauth) } : {}),
        ...due.set,
      },
      remove: [...LEASE_ATTRIBUTES, ...due.remove],
    },
    refused: (item) => versionedRefusal(item, input.owner, input.expectedVersion),
  };
}

/** A new due time (or none) set by the lease holder without a Wix call; releases the lease. */
export function leasedReschedule(input: LeasedInput & { due: DuePlacement; lastUsedAtRead?: number }): Transition {
  const due = dueAssignments(input.due);
  return {
    name: 'leasedReschedule',
    condition: and(holds(input.owner, input.expectedVersion, input.at), ...stillUnused(input)),
    update: { set: due.set, remove: [...LEASE_ATTRIBUTES, ...due.remove] },
    refused: (item) => {
      // Unversioned: our own lost answer shows as the lease gone and the due time as we wrote it.
      const wrote = input.due === null ? item?.dueAt === undefined : item?.dueAt === input.due.dueAt;
      if (item !== undefined && item.version === input.expectedVersion && item.leaseOwner === undefined && wrote) return Refusal.Applied;
      return usedSinceRead(item, input) ?? versionedRefusal(item, input.owner, input.expectedVersion);
    },
  };
}
