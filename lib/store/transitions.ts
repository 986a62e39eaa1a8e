import { A, type InstanceItem } from './item';
import { and, eq, exists, ge, gt, le, lt, missing, ne, not, or, type Assignment, type Attribute, type Condition, type Update } from './expression';
import { GrantKind, InstanceStatus } from './types';

/**
 * The instance lifecycle: every write any function makes to an instance record, as a named
 * transition that says when it applies, why it is refused, and what it changes. The stores
 * (./dynamo-token-store on DynamoDB, ./memory-token-store in memory) only carry these out; no
 * rule lives anywhere else.
 *
 * ```
 *                 install callback (newer) / AppInstalled (newer)
 *      (none) ───────────────────────────────────────────────▶ active ◀──┐ leased token write
 *        │                                                    │  ▲  │    │ (success clears
 *        │ AppRemoved                    leased failure,      │  │  └────┘  lastError)
 *        │                               refused by Wix       ▼  │
 *        │                                        needs_reauth ──┘ install callback / AppInstalled
 *        ▼                                                          (newer) / leased token write
 *   uninstalled (tombstone) ◀──── AppRemoved (newer, or a tie with an install) ── from any state
 *        │
 *        └── install callback or AppInstalled newer than the removal ──▶ active
 * ```
 *
 * Who may write what, and when:
 *
 * | transition          | applies when                                              | version | lease            |
 * |---------------------|-----------------------------------------------------------|---------|------------------|
 * | installCallback     | record read at `version` unchanged; no tombstone at or    | +1      | untouched (the   |
 * |                     | after the install's Wix time; no newer install stored     |         | holder loses)    |
 * | appInstalled        | event newer than the newest applied (ties: removal wins)  | +1      | untouched        |
 * | appRemoved          | event newer, or equal to a non-removal                    | +1      | removed          |
 * | acquireLease        | not a tombstone; lease free, ours, expired by more than   | -       | set              |
 * |                     | the clock skew, or watched out by the caller; a record it |         |                  |
 * |                     | creates gets lastEventAt = now - skew (event-time floor)  |         |                  |
 * | leasedTokenWrite    | version unchanged, lease ours and live; leaving the due   | +1      | removed          |
 * |                     | index only if no use was recorded since the read          |         |                  |
 * | rotatedTokenWrite   | version unchanged; never removes a live holder's lease    | +1      | removed if ours  |
 * | leasedFailure       | version unchanged, lease ours and live                    | +1      | removed          |
 * | leasedReschedule    | version unchanged, lease ours and live                    | -       | removed          |
 * | releaseLease        | lease ours                                                | -       | removed          |
 * | deferDue            | due time as read, lease free or expired, not a tombstone  | -       | untouched        |
 * | touchLastUsed       | not a tombstone; stored use a minute old or absent (puts  | -       | untouched        |
 * |                     | an instance out of the due index back in, due now)        |         |                  |
 * | scheduleNow         | version as read, active, out of the due index (after an   | -       | untouched        |
 * |                     | AppInstalled over a record that holds tokens)             |         |                  |
 * | rewrapTokens        | version as read and each envelope exactly as read (the    | -       | untouched        |
 * |                     | ops re-wrap: same tokens under the ring's current key)    |         |                  |
 * | importTokens        | no record, or a bare one (no token, not a tombstone) at   | +1      | free or expired  |
 * |                     | the version read, its lease free (the ops import)         |         | (left as is)     |
 * ```
 *
 * Ordering uses Wix's clock only: a webhook's `iat`, and for the install callback the issue time
 * Token Info reports for the token the code was exchanged for. This service's clocks (`at`) stamp
 * `updatedAt` and judge leases: a holder judges its own lease by the clock that wrote it; anyone
 * else either allows {@link LEASE_CLOCK_SKEW_MS} or watches one lease run a whole length on its
 * own clock, so containers whose clocks are each within 5 s of true time never hold one lease at once.
 *
 * A write whose answer was lost (the SDK timed out after DynamoDB applied it, and the retry met
 * its own write) is recognised by `writer`: every versioned write records who made it, and a
 * refusal that finds the writer's own mark at the version it would have written is `applied`.
 */

/** Why a transition did not apply; `applied` means our own earlier attempt already did. */
export const Refusal = {
  /** The writer's own earlier attempt applied (its answer was lost). */
  Applied: 'applied',
  /** The same event was applied before (a redelivery). */
  Duplicate: 'duplicate',
  /** An event at least as new is applied already. */
  Stale: 'stale',
  /** The tokens of a newer install are stored. */
  Superseded: 'superseded',
  /** The instance is a tombstone. */
  Uninstalled: 'uninstalled',
  NotFound: 'not_found',
  /** Another caller holds a live lease. */
  Held: 'held',
  /** The writer's lease expired or was taken over. */
  LeaseLost: 'lease_lost',
  /** Someone wrote since the writer read the record. */
  Version: 'version',
} as const;
export type Refusal = (typeof Refusal)[keyof typeof Refusal];

/** One conditional write of one instance item. */
export interface Transition<R extends Refusal = Refusal> {
  readonly name: string;
  readonly condition: Condition;
  readonly update: Update;
  /** Why it did not apply, judged on the item as it stood when the condition failed. */
  readonly refused: (item: InstanceItem | undefined) => R;
}

/** Due-index placement: a shard and a time, or out of the index. */
export type DuePlacement = { shard: string; dueAt: number } | null;

/** Times and identity every transition takes. */
interface Stamp {
  /** This service's clock, epoch ms: updatedAt and lease expiry only. */
  at: number;
}

/** What a transition that judges someone else's lease needs besides the time. */
interface LeaseJudgement extends Stamp {
  /** How far other containers' clocks may be from ours ({@link LEASE_CLOCK_SKEW_MS} by default). */
  skewMs: number;
}

const to = (value: string | number): Assignment => ({ to: value });

function dueAssignments(due: DuePlacement): { set: Partial<Record<Attribute, Assignment>>; remove: Attribute[] } {
  return due === null ? { set: {}, remove: [A.dueShard, A.dueAt] } : { set: { dueShard: to(due.shard), dueAt: to(due.dueAt) }, remove: [] };
}

const ERROR_ATTRIBUTES: Attribute[] = [A.errorKind, A.errorCode, A.errorAt, A.errorCount];
const LEASE_ATTRIBUTES: Attribute[] = [A.leaseOwner, A.leaseExpiresAt, A.leaseMs];

/** Not a tombstone (false for a missing item, as DynamoDB judges `<>` on a missing attribute). */
const notTombstone = ne(A.status, InstanceStatus.Uninstalled);

/**
 * How far another container's clock may be from ours: each within 5 s of true time, so two may
 * differ by 10 s. A lease's expiry was written by its holder's clock, so anyone else judges it over
 * by their own clock only this long after it ended; a waiter that watched one lease unchanged for
 * a whole lease length on its own clock needs no such margin (only differences of its own clock
 * count then).
 */
export const LEASE_CLOCK_SKEW_MS = 10_000;

/**
 * The lease is free for `owner` at `at`: nobody holds it, it is ours, its time is up even allowing
 * for clock skew, or it is exactly the lease the caller watched run out (`watched`).
 */
const leaseFreeFor = (owner: string, { at, skewMs }: LeaseJudgement, watched?: { owner: string; expiresAt: number }): Condition =>
  or(
    missing(A.leaseOwner),
    eq(A.leaseOwner, owner),
    le(A.leaseExpiresAt, at - skewMs),
    ...(watched === undefined ? [] : [and(eq(A.leaseOwner, watched.owner), eq(A.leaseExpiresAt, watched.expiresAt))]),
  );

/**
 * Every write made under a lease:
 *
 * ```
 * version = expected  AND  leaseOwner = me  AND  leaseExpiresAt > now
 *   \ nobody wrote since   \ still mine        \ not expired (a taker-over may be coming)
 * ```
 */
const holds = (owner: string, expectedVersion: number, at: number): Condition =>
  and(eq(A.version, expectedVersion), eq(A.leaseOwner, owner), gt(A.leaseExpiresAt, at));

/**
 * Leaving the due index (`due` null, the instance judged dormant) also requires that no use was
 * recorded since the holder read the record: {@link touchLastUsed} writes no version, so without
 * this a holder that read an old lastUsedAt would take out an instance a mint has just used.
 */
function stillUnused(input: { due: DuePlacement; lastUsedAtRead?: number }): Condition[] {
  if (input.due !== null) return [];
  return [input.lastUsedAtRead === undefined ? missing(A.lastUsedAt) : le(A.lastUsedAt, input.lastUsedAtRead)];
}

/** `version` when {@link stillUnused} is what refused the write: a use landed since the read. */
function usedSinceRead(item: InstanceItem | undefined, input: { owner: string; expectedVersion: number; due: DuePlacement; lastUsedAtRead?: number }): Refusal | undefined {
  if (input.due !== null || item === undefined || item.lastUsedAt === undefined) return undefined;
  if (item.writer === input.owner && item.version === input.expectedVersion + 1) return undefined;
  const usedSince = input.lastUsedAtRead === undefined || item.lastUsedAt > input.lastUsedAtRead;
  return usedSince && item.version === input.expectedVersion ? Refusal.Version : undefined;
}

/** Why a versioned write by `writer` on `expectedVersion` was refused. */
function versionedRefusal(item: InstanceItem | undefined, writer: string, expectedVersion: number): Refusal {
  if (item === undefined) return Refusal.NotFound;
  if (item.writer === writer && item.version === expectedVersion + 1) return Refusal.Applied;
  if (item.status === InstanceStatus.Uninstalled) return Refusal.Uninstalled;
  if (item.version !== expectedVersion) return Refusal.Version;
  return Refusal.LeaseLost;
}

// ── install callback ────────────────────────────────────────────────────────────────────────

export interface InstallCallbackInput extends Stamp {
  appId: string;
  instanceId: string;
  /** Unique per install callback (its state's hash): a retried write finds its own mark. */
  installId: string;
  refreshToken: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  /** Wix's clock: the exchanged token's issue time, epoch ms. */
  installedAt: number;
  due: DuePlacement;
}

/**
 * The tokens of a code exchange: creates the record or replaces the refresh token (a reinstall),
 * reviving a tombstone older than the install. A compare-and-set on the version read (`current`),
 * because what it writes depends on it (the newest event time, the next version); a caller that
 * meets `version` reads again and retries.
 *
 * ```
 * installId is this callback's ──────────────▶ applied (its own earlier write; its answer was lost)
 * tombstone with lastEventAt >= installedAt ──▶ uninstalled (the removal followed the consent)
 * lastInstallAt > installedAt ────────────────▶ superseded (a newer install's tokens are stored)
 * otherwise ──────────────────────────────────▶ write; lastEventAt = max(lastEventAt, installedAt)
 * ```
 */
export function installCallback(current: InstanceItem | undefined, input: InstallCallbackInput): Transition {
  const removedAfter = (item: InstanceItem | undefined) =>
    item?.status === InstanceStatus.Uninstalled && (item.lastEventAt ?? 0) >= input.installedAt;
  // Strictly newer: Wix's times are whole seconds, and of two installs in one second the one
  // whose callback comes last is the one the site owner just finished.
  const newerStored = (item: InstanceItem | undefined) => item?.lastInstallAt !== undefined && item.lastInstallAt > input.installedAt;
  const refused = (item: InstanceItem | undefined): Refusal => {
    if (item?.installId === input.installId) return Refusal.Applied;
    if (removedAfter(item)) return Refusal.Uninstalled;
    if (newerStored(item)) return Refusal.Superseded;
    return Refusal.Version;
  };
  const due = dueAssignments(input.due);
  const update: Update = {
    set: {
      appId: to(input.appId),
      instanceId: to(input.instanceId),
      status: to(InstanceStatus.Active),
      grantKind: to(GrantKind.Legacy),
      refreshToken: to(input.refreshToken),
      accessToken: to(input.accessToken),
      accessTokenExpiresAt: to(input.accessTokenExpiresAt),
      refreshedAt: to(input.at),
      version: to((current?.version ?? 0) + 1),
      createdAt: { ifMissing: input.at },
      updatedAt: to(input.at),
      lastEventAt: to(Math.max(current?.lastEventAt ?? input.installedAt, input.installedAt)),
      lastInstallAt: to(input.installedAt),
      installId: to(input.installId),
      writer: to(input.installId),
      ...due.set,
    },
    remove: [A.ttl, ...ERROR_ATTRIBUTES, ...due.remove],
  };
  const unchanged = current === undefined ? missing(A.pk) : eq(A.version, current.version);
  return {
    name: 'installCallback',
    condition: and(
      unchanged,
      // Not this callback's own write already (a retry whose first answer was lost).
      or(missing(A.installId), ne(A.installId, input.installId)),
      not(and(eq(A.status, InstanceStatus.Uninstalled), ge(A.lastEventAt, input.installedAt))),
      or(missing(A.lastInstallAt), le(A.lastInstallAt, input.installedAt)),
    ),
    update,
    refused,
  };
}

// ── webhooks ────────────────────────────────────────────────────────────────────────────────

export interface LifecycleEventInput extends Stamp {
  appId: string;
  instanceId: string;
  /** Wix's clock: the webhook's `iat`, epoch ms. */
  eventAt: number;
}

/**
 * AppInstalled: an active instance, its grant kind kept (a refresh token held stays legacy), else
 * client credentials. Strictly newer events only: on a tie with a removal, the removal wins.
 *
 * Tokens are kept: Wix does not say whether AppInstalled is sent before or after the install
 * callback's code exchange, and the refresh token that exchange stored must never be dropped. A
 * record that keeps tokens but left the due index (it was needs_reauth, which this clears) is
 * then put back by {@link scheduleNow}, so the next sweep looks at what it holds.
 */
export function appInstalled(input: LifecycleEventInput & { originInstanceId?: string }): Transition<'duplicate' | 'stale'> {
  return {
    name: 'appInstalled',
    condition: or(missing(A.lastEventAt), lt(A.lastEventAt, input.eventAt)),
    update: {
      set: {
        appId: to(input.appId),
        instanceId: to(input.instanceId),
        status: to(InstanceStatus.Active),
        grantKind: { ifMissing: GrantKind.ClientCredentials },
        version: { add: 1, from: 0 },
        createdAt: { ifMissing: input.at },
        updatedAt: to(input.at),
        lastEventAt: to(input.eventAt),
        ...(input.originInstanceId === undefined ? {} : { originInstanceId: to(input.originInstanceId) }),
      },
      remove: [A.ttl, ...ERROR_ATTRIBUTES],
    },
    refused: (item) =>
      item?.lastEventAt === input.eventAt && item.status !== InstanceStatus.Uninstalled ? Refusal.Duplicate : Refusal.Stale,
  };
}

/**
 * AppRemoved: a tombstone. Tokens, lease and due time go; the item is purged at `purgeAt`.
 * Newer events apply, and so does one equal to an install's (a removal wins a tie).
 */
export function appRemoved(input: LifecycleEventInput & { purgeAtSeconds: number }): Transition<'duplicate' | 'stale'> {
  return {
    name: 'appRemoved',
    condition: or(
      missing(A.lastEventAt),
      lt(A.lastEventAt, input.eventAt),
      and(eq(A.lastEventAt, input.eventAt), ne(A.status, InstanceStatus.Uninstalled)),
    ),
    update: {
      set: {
        appId: to(input.appId),
        instanceId: to(input.instanceId),
        status: to(InstanceStatus.Uninstalled),
        // No refresh token survives a tombstone, so a revived instance starts on client credentials.
        grantKind: to(GrantKind.ClientCredentials),
        version: { add: 1, from: 0 },
        createdAt: { ifMissing: input.at },
        updatedAt: to(input.at),
        lastEventAt: to(input.eventAt),
        ttl: to(input.purgeAtSeconds),
      },
      remove: [A.refreshToken, A.accessToken, A.accessTokenExpiresAt, A.dueShard, A.dueAt, ...LEASE_ATTRIBUTES, ...ERROR_ATTRIBUTES],
    },
    refused: (item) =>
      item?.lastEventAt === input.eventAt && item.status === InstanceStatus.Uninstalled ? Refusal.Duplicate : Refusal.Stale,
  };
}

/**
 * Puts an active instance that holds tokens but is out of the due index back in it, due now,
 * provided nothing was written since it was read (`expectedVersion`); the follow-up of
 * {@link appInstalled}, repeated when the webhook is redelivered.
 */
export function scheduleNow(input: Stamp & { expectedVersion: number; due: { shard: string; dueAt: number } }): Transition<'stale'> {
  return {
    name: 'scheduleNow',
    condition: and(eq(A.version, input.expectedVersion), eq(A.status, InstanceStatus.Active), missing(A.dueAt)),
    update: { set: { dueShard: to(input.due.shard), dueAt: to(input.due.dueAt) }, remove: [] },
    refused: () => Refusal.Stale,
  };
}

// ── the lease ───────────────────────────────────────────────────────────────────────────────

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

// ── writes under the lease ──────────────────────────────────────────────────────────────────

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

// ── writes without the lease ────────────────────────────────────────────────────────────────

/**
 * Moves a due time later without the lease, for an instance the sweep will not try because its
 * app is failing: it stops the app's items from staying at the head of every shard. Only the
 * due time read is moved, never one a holder is about to write.
 */
export function deferDue(input: LeaseJudgement & { seenDueAt: number; dueAt: number }): Transition<'stale'> {
  return {
    name: 'deferDue',
    condition: and(eq(A.dueAt, input.seenDueAt), notTombstone, or(missing(A.leaseOwner), le(A.leaseExpiresAt, input.at - input.skewMs))),
    update: { set: { dueAt: to(input.dueAt) }, remove: [] },
    refused: () => Refusal.Stale,
  };
}

/** lastUsedAt kept to this resolution: at most one write per instance per minute. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Records use when the stored lastUsedAt is a minute old or absent; no version bump, no lease
 * check. An instance out of the due index goes back in, due at once (`due`): a holder may have
 * judged it dormant just before this use (the sweep then decides again on the record).
 */
export function touchLastUsed(input: { usedAt: number; due: { shard: string; dueAt: number } }): Transition<'stale'> {
  return {
    name: 'touchLastUsed',
    condition: and(
      exists(A.pk),
      notTombstone,
      or(missing(A.lastUsedAt), le(A.lastUsedAt, input.usedAt - LAST_USED_RESOLUTION_MS)),
    ),
    update: {
      set: { lastUsedAt: to(input.usedAt), dueShard: { ifMissing: input.due.shard }, dueAt: { ifMissing: input.due.dueAt } },
      remove: [],
    },
    refused: () => Refusal.Stale,
  };
}

/** The predicate behind {@link touchLastUsed}, for callers deciding whether to write at all. */
export function lastUseWorthWriting(lastUsedAt: number | undefined, now: number): boolean {
  return lastUsedAt === undefined || lastUsedAt <= now - LAST_USED_RESOLUTION_MS;
}

// ── operator writes (infra/ops) ─────────────────────────────────────────────────────────────

export interface RewrapInput {
  /** What was read: the version and the exact envelopes (absent: the attribute was missing). */
  read: { version: number; refreshToken?: string; accessToken?: string };
  /** The same plaintexts under the ring's current key; only the envelopes being replaced. */
  refreshToken?: string;
  accessToken?: string;
}

const sameAs = (attribute: Attribute, value: string | undefined): Condition => (value === undefined ? missing(attribute) : eq(attribute, value));

/**
 * Replaces token envelopes by envelopes of the same tokens under another key. It changes no token,
 * so it bumps no version and leaves the lease alone: a holder that read the record before it still
 * writes. Its own condition is therefore the exact ciphertexts read (and the version): any token
 * write since the read changed an envelope, and the re-wrap is refused rather than putting back an
 * older token.
 */
export function rewrapTokens(input: RewrapInput): Transition<'not_found' | 'version'> {
  return {
    name: 'rewrapTokens',
    condition: and(exists(A.pk), eq(A.version, input.read.version), sameAs(A.refreshToken, input.read.refreshToken), sameAs(A.accessToken, input.read.accessToken)),
    update: {
      set: {
        ...(input.refreshToken === undefined ? {} : { refreshToken: to(input.refreshToken) }),
        ...(input.accessToken === undefined ? {} : { accessToken: to(input.accessToken) }),
      },
      remove: [],
    },
    refused: (item) => (item === undefined ? Refusal.NotFound : Refusal.Version),
  };
}

export interface ImportInput extends LeaseJudgement {
  appId: string;
  instanceId: string;
  /** Unique per import run and line: a retried write finds its own mark. */
  importId: string;
  /** The version of the bare record read, or undefined when none was. */
  expectedVersion: number | undefined;
  grantKind: GrantKind;
  /** Envelopes (already encrypted); refreshToken only for a legacy grant. */
  refreshToken?: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  due: DuePlacement;
}

/**
 * An existing install brought in by the operator, its tokens checked with Wix just before. It only
 * fills in what nothing newer has written: no record, or a bare one (created by a mint or an
 * AppInstalled, holding no token) still at the version read and not leased by a live holder.
 * A record holding tokens, or a tombstone, is never overwritten.
 *
 * ```
 * writer is this import ─────────────▶ applied (its own earlier write; its answer was lost)
 * tombstone ─────────────────────────▶ uninstalled
 * holds a token ─────────────────────▶ superseded
 * live lease ────────────────────────▶ held
 * otherwise (version moved) ─────────▶ version
 * ```
 */
export function importTokens(input: ImportInput): Transition<'applied' | 'uninstalled' | 'superseded' | 'held' | 'version'> {
  const due = dueAssignments(input.due);
  const bare = and(
    eq(A.version, input.expectedVersion ?? -1),
    notTombstone,
    missing(A.refreshToken),
    missing(A.accessToken),
    or(missing(A.leaseOwner), le(A.leaseExpiresAt, input.at - input.skewMs)),
  );
  return {
    name: 'importTokens',
    condition: input.expectedVersion === undefined ? missing(A.pk) : bare,
    update: {
      set: {
        appId: to(input.appId),
        instanceId: to(input.instanceId),
        status: to(InstanceStatus.Active),
        grantKind: to(input.grantKind),
        ...(input.refreshToken === undefined ? {} : { refreshToken: to(input.refreshToken) }),
        accessToken: to(input.accessToken),
        accessTokenExpiresAt: to(input.accessTokenExpiresAt),
        refreshedAt: to(input.at),
        version: to((input.expectedVersion ?? 0) + 1),
        createdAt: { ifMissing: input.at },
        updatedAt: to(input.at),
        writer: to(input.importId),
        ...due.set,
      },
      remove: [A.ttl, ...ERROR_ATTRIBUTES, ...due.remove],
    },
    refused: (item) => {
      if (item?.writer === input.importId) return Refusal.Applied;
      if (item?.status === InstanceStatus.Uninstalled) return Refusal.Uninstalled;
      if (item?.refreshToken !== undefined || item?.accessToken !== undefined) return Refusal.Superseded;
      if (item !== undefined && item.version === input.expectedVersion && item.leaseOwner !== undefined) return Refusal.Held;
      return Refusal.Version;
    },
  };
}
