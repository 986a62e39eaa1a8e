import { A } from '../item';
import { and, eq, exists, le, missing, or } from '../expression';
import { notTombstone, Refusal, to, type LeaseJudgement, type Transition } from './guards';

/**
 * The writes made without the lease: the sweep's deferral of a failing app's due times and mint's
 * record of use. Their rules are in the table of ../transitions.
 */

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
