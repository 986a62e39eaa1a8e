import { A, type InstanceItem } from '../item';
import { and, eq, gt, le, missing, ne, or, type Assignment, type Attribute, type Condition, type Update } from '../expression';
import { InstanceStatus } from '../types';

/**
 * What every transition shares (../transitions lists them all with their rules): the refusals, the
 * shape of a transition, and the guards more than one writer's conditions are built from.
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
export interface Stamp {
  /** This service's clock, epoch ms: updatedAt and lease expiry only. */
  at: number;
}

/** What a transition that judges someone else's lease needs besides the time. */
export interface LeaseJudgement extends Stamp {
  /** How far other containers' clocks may be from ours ({@link LEASE_CLOCK_SKEW_MS} by default). */
  skewMs: number;
}

export const to = (value: string | number): Assignment => ({ to: value });

export function dueAssignments(due: DuePlacement): { set: Partial<Record<Attribute, Assignment>>; remove: Attribute[] } {
  return due === null ? { set: {}, remove: [A.dueShard, A.dueAt] } : { set: { dueShard: to(due.shard), dueAt: to(due.dueAt) }, remove: [] };
}

export const ERROR_ATTRIBUTES: Attribute[] = [A.errorKind, A.errorCode, A.errorAt, A.errorCount];
export const LEASE_ATTRIBUTES: Attribute[] = [A.leaseOwner, A.leaseExpiresAt, A.leaseMs];

/** Not a tombstone (false for a missing item, as DynamoDB judges `<>` on a missing attribute). */
export const notTombstone = ne(A.status, InstanceStatus.Uninstalled);

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
export const leaseFreeFor = (owner: string, { at, skewMs }: LeaseJudgement, watched?: { owner: string; expiresAt: number }): Condition =>
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
export const holds = (owner: string, expectedVersion: number, at: number): Condition =>
  and(eq(A.version, expectedVersion), eq(A.leaseOwner, owner), gt(A.leaseExpiresAt, at));

/**
 * Leaving the due index (`due` null, the instance judged dormant) also requires that no use was
 * recorded since the holder read the record: {@link touchLastUsed} writes no version, so without
 * this a holder that read an old lastUsedAt would take out an instance a mint has just used.
 */
export function stillUnused(input: { due: DuePlacement; lastUsedAtRead?: number }): Condition[] {
  if (input.due !== null) return [];
  return [input.lastUsedAtRead === undefined ? missing(A.lastUsedAt) : le(A.lastUsedAt, input.lastUsedAtRead)];
}

/** `version` when {@link stillUnused} is what refused the write: a use landed since the read. */
export function usedSinceRead(item: InstanceItem | undefined, input: { owner: string; expectedVersion: number; due: DuePlacement; lastUsedAtRead?: number }): Refusal | undefined {
  if (input.due !== null || item === undefined || item.lastUsedAt === undefined) return undefined;
  if (item.writer === input.owner && item.version === input.expectedVersion + 1) return undefined;
  const usedSince = input.lastUsedAtRead === undefined || item.lastUsedAt > input.lastUsedAtRead;
  return usedSince && item.version === input.expectedVersion ? Refusal.Version : undefined;
}

/** Why a versioned write by `writer` on `expectedVersion` was refused. */
export function versionedRefusal(item: InstanceItem | undefined, writer: string, expectedVersion: number): Refusal {
  if (item === undefined) return Refusal.NotFound;
  if (item.writer === writer && item.version === expectedVersion + 1) return Refusal.Applied;
  if (item.status === InstanceStatus.Uninstalled) return Refusal.Uninstalled;
  if (item.version !== expectedVersion) return Refusal.Version;
  return Refusal.LeaseLost;
}
